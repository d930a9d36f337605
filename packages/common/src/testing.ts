import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { basename, join } from "node:path";
import { build } from "esbuild";
import { repoRoot } from "./config.ts";

/**
 * Helpers for tests that run our daemons as real processes. Test-only: nothing in `src/` of an app imports this.
 */

/** A TCP port free right now on 127.0.0.1, for a process the test is about to start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * A daemon's entry point (e.g. `apps/indexer/src/main.ts`) compiled into one ESM file by the esbuild that tsx itself
 * runs: workspace sources bundled, npm packages left to node. Kill-and-restart tests start it with plain `node`,
 * because tsx's loader costs seconds per start on a busy 2-core machine and its CLI wrapper would be orphaned by a
 * SIGKILL. The code is the same source. The file is removed when the test process exits.
 */
export async function bundleEntryForTest(entry: string): Promise<string> {
  const name = basename(join(entry, "..", ".."));
  const outfile = join(repoRoot, "node_modules", ".cache", "certchain-test", `${name}-${randomUUID()}.mjs`);
  await build({
    entryPoints: [join(repoRoot, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    plugins: [
      {
        name: "npm-packages-external",
        setup(builder) {
          builder.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith("@certchain/") ? undefined : { external: true },
          );
        },
      },
    ],
  });
  process.once("exit", () => rmSync(outfile, { force: true }));
  return outfile;
}

/** One of our daemons running as a real process from its bundled entry (see `bundleEntryForTest`). */
export type DaemonProcess = {
  child: ChildProcess;
  /** The last lines it printed, for failure messages. */
  output(): string;
  /** Resolves once `GET <url>` answers 200; rejects with the daemon's output after the timeout or if it exits. */
  waitFor(url: string, timeoutMs?: number): Promise<void>;
  kill9(): Promise<void>;
  /** SIGTERM, then the exit code once it has shut down. */
  stop(): Promise<number | null>;
};

const bundles = new Map<string, Promise<string>>();

/**
 * Starts `entry` (e.g. `apps/api/src/main.ts`) under plain node with exactly `env` (plus PATH and HOME), bundling it
 * once per test process.
 */
export async function startDaemon(entry: string, env: Record<string, string>): Promise<DaemonProcess> {
  const bundle = bundles.get(entry) ?? bundleEntryForTest(entry);
  bundles.set(entry, bundle);
  const child = spawn(process.execPath, [await bundle], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split("\n").filter(Boolean));
    if (lines.length > 100) lines.splice(0, lines.length - 100);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    return exited;
  };
  return {
    child,
    output: () => lines.join("\n"),
    async waitFor(url, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        const ok = await fetch(url).then(
          (response) => response.ok,
          () => false,
        );
        if (ok) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`${entry} did not answer ${url}:\n${lines.join("\n")}`);
    },
    kill9: async () => {
      await signal("SIGKILL");
    },
    stop: () => signal("SIGTERM"),
  };
}

export { type FakeSentry, startFakeSentry } from "./fake-sentry.ts";
export {
  type PrivateServer,
  privateServersUnavailable,
  startPrivateMariadb,
  startPrivateRedis,
} from "./private-services.ts";
