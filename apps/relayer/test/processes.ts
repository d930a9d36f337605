import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@certchain/common";
import { bundleEntryForTest, freePort } from "@certchain/common/testing";
import { writeDeployment } from "@certchain/contracts";
import { MASTER_KEY, type Stack } from "./fixtures.ts";

/** A relayer running as its own process, as in production. */
export type RelayerProcess = {
  child: ChildProcess;
  /** The last lines it printed, for failure messages. */
  output(): string;
  /** Resolves once `/readyz` answers 200 (the worker runs and every dependency answers). */
  waitReady(timeoutMs?: number): Promise<void>;
  kill9(): Promise<void>;
  /** SIGTERM, then the exit code once it has shut down. */
  stop(): Promise<number | null>;
};

export type RelayerProcessFactory = {
  spawn(): Promise<RelayerProcess>;
  /** Deletes the compiled relayer and the deployments file; call after the last process has exited. */
  dispose(): void;
};

export function relayerProcesses(stack: Stack, env: Record<string, string> = {}): RelayerProcessFactory {
  const deploymentsDir = mkdtempSync(join(tmpdir(), "certchain-relayer-"));
  writeDeployment(stack.deployment, deploymentsDir);

  let bundle: Promise<string> | undefined;
  return {
    dispose() {
      rmSync(deploymentsDir, { recursive: true, force: true });
      void bundle?.then((outfile) => rmSync(outfile, { force: true }));
    },
    async spawn() {
      bundle ??= bundleEntryForTest("apps/relayer/src/main.ts");
      const port = await freePort();
      // node itself, not a wrapper such as the `tsx` CLI, which runs node as a child that a SIGKILL would orphan.
      const child = spawn(process.execPath, [await bundle], {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: "test",
          LOG_LEVEL: "warn",
          DATABASE_URL: stack.database.url,
          REDIS_URL: "redis://127.0.0.1:6379",
          REDIS_PREFIX: stack.redisPrefix,
          ETH_NODE_URL: stack.anvil.rpcUrl,
          CHAIN_ID: "31337",
          RELAYER_PORT: String(port),
          FINALITY_DEPTH: "1",
          MASTER_KEY: MASTER_KEY.slice(2),
          DEPLOYMENTS_DIR: deploymentsDir,
          RELAYER_POLL_MS: "100",
          RELAYER_JOB_LOCK_MS: "1000",
          RELAYER_CONCURRENCY: "8",
          ...env,
        },
      });
      const lines: string[] = [];
      const keep = (chunk: Buffer) => {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        if (lines.length > 50) lines.splice(0, lines.length - 50);
      };
      child.stdout?.on("data", keep);
      child.stderr?.on("data", keep);
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const signal = async (name: NodeJS.Signals) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(name);
        return exited;
      };
      return {
        child,
        output: () => lines.join("\n"),
        async waitReady(timeoutMs = 30_000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
              (response) => response.ok,
              () => false,
            );
            if (ready) return;
            if (child.exitCode !== null || Date.now() > deadline) {
              throw new Error(`relayer process not ready (exit code ${child.exitCode}):\n${lines.join("\n")}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        },
        kill9: async () => void (await signal("SIGKILL")),
        stop: () => signal("SIGTERM"),
      };
    },
  };
}
