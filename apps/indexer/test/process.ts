import { type ChildProcess, spawn } from "node:child_process";
import { bundleEntryForTest } from "@certchain/common/testing";

let bundle: Promise<string> | undefined;
const indexerBundle = () => {
  bundle ??= bundleEntryForTest("apps/indexer/src/main.ts");
  return bundle;
};

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
