import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { repoRoot } from "@certchain/common";
import { build } from "esbuild";

/**
 * `apps/indexer/src/main.ts` compiled once into one ESM file (workspace sources bundled, npm packages left to node)
 * by the esbuild that tsx itself runs. tsx's loader costs seconds per start on a busy 2-core machine, which would make
 * twenty kill-and-restart cycles take minutes; the bundle starts in a fraction of that. The code is the same source.
 */
let bundle: Promise<string> | undefined;
function indexerBundle(): Promise<string> {
  bundle ??= (async () => {
    const outfile = join(repoRoot, "node_modules", ".cache", "certchain-indexer-test", `main-${process.pid}.mjs`);
    await build({
      entryPoints: [join(repoRoot, "apps/indexer/src/main.ts")],
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
  })();
  return bundle;
}

/** A free TCP port for a child's INDEXER_PORT. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export type IndexerProcess = {
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  output(): string;
};

/** The indexer as a real process (node itself, no npm or tsx CLI in between, so a signal reaches the indexer). */
export async function spawnIndexer(env: Record<string, string>, args: readonly string[]): Promise<IndexerProcess> {
  const child = spawn(process.execPath, [await indexerBundle(), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}
