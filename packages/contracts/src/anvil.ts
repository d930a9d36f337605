import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** How long anvil may take to print its listening address before we give up. */
const STARTUP_TIMEOUT_MS = 15_000;

export type Anvil = {
  /** HTTP JSON-RPC URL, e.g. `http://127.0.0.1:40123`. */
  rpcUrl: string;
  /** WebSocket URL on the same port. */
  wsUrl: string;
  port: number;
  /** Stops the node and waits for the process to exit. */
  stop(): Promise<void>;
  /** The child process, for callers that stream its output. */
  process: ChildProcess;
  /** This node's own HOME, where anvil keeps spilled block states; deleted when the process exits. */
  home: string;
};

export type AnvilOptions = {
  /** Port to listen on; 0 (the default) lets the OS pick a free one, so parallel test files never collide. */
  port?: number;
  chainId?: number;
  /** Seconds between blocks; by default anvil mines one block per transaction. */
  blockTime?: number;
  /** Extra command-line arguments. */
  args?: readonly string[];
};

/** Path of the anvil binary shipped by `@foundry-rs/anvil`'s platform package (no foundryup, no download). */
export function anvilBinaryPath(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const require = createRequire(import.meta.url);
  const pkg = require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/package.json`);
  const binary = join(dirname(pkg), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
  if (!existsSync(binary)) throw new Error(`anvil binary missing at ${binary}; run npm install`);
  return binary;
}

/**
 * The anvils of this process that are still running. A process that ends without stopping them (an uncaught error,
 * `process.exit`) takes them down with it: otherwise each would run on, orphaned, and keep its HOME on disk.
 */
const orphanable = new Set<() => void>();
process.on("exit", () => {
  for (const cleanUp of orphanable) cleanUp();
});

/** Starts a fresh anvil and resolves once it accepts connections. */
export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    String(options.port ?? 0),
    "--chain-id",
    String(options.chainId ?? 31337),
  ];
  if (options.blockTime !== undefined) args.push("--block-time", String(options.blockTime));
  args.push(...(options.args ?? []));

  // anvil spills old block states to `$HOME/.foundry/anvil/tmp` and never deletes them: a test suite's worth of
  // chains filled a 250 GB disk. Each anvil gets a HOME of its own, removed when it exits.
  const home = mkdtempSync(join(tmpdir(), "certchain-anvil-"));
  const child = spawn(anvilBinaryPath(), args, {
    env: { ...process.env, HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const cleanUp = () => {
    child.kill("SIGKILL");
    rmSync(home, { recursive: true, force: true });
  };
  orphanable.add(cleanUp);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      orphanable.delete(cleanUp);
      rmSync(home, { recursive: true, force: true });
      resolve();
    }),
  );

  let settled = () => {};
  const port = await new Promise<number>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => fail(new Error(`anvil did not start within ${STARTUP_TIMEOUT_MS} ms: ${output}`)),
      STARTUP_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on [\d.]+:(\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        // Keep draining so a chatty anvil never blocks on a full pipe.
        child.stdout?.resume();
        resolve(Number(match[1]));
      }
    };
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const onEarlyExit = (code: number | null) => fail(new Error(`anvil exited with code ${code}: ${output.trim()}`));
    child.once("error", fail);
    child.once("exit", onEarlyExit);
    settled = () => {
      child.off("error", fail);
      child.off("exit", onEarlyExit);
    };
  });
  settled();
  child.stderr?.resume();

  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    process: child,
    home,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Longest wait for anvil's pool to let go of transactions it has already mined (it takes a few milliseconds). */
const POOL_SETTLE_TIMEOUT_MS = 30_000;

/** A JSON-RPC call to the node: `(method, params) => client.request({ method, params })` with viem. */
export type AnvilRpc = (method: string, params: unknown[]) => Promise<unknown>;

/**
 * Resolves once anvil's pool no longer lists a transaction that is already mined. Anvil shows a mined block (and its
 * receipts) before its pool lets go of the block's transactions, and a sender's next nonce comes from the pool first.
 * A reorg in that window leaves an orphaned transaction in the pool: the sender's next transaction gets a nonce past the
 * rolled-back account's, and anvil drops it when it mines, so it never gets a receipt.
 */
export async function anvilPoolSettled(rpc: AnvilRpc): Promise<void> {
  const deadline = Date.now() + POOL_SETTLE_TIMEOUT_MS;
  for (;;) {
    const { pending } = (await rpc("txpool_content", [])) as {
      pending: Record<string, Record<string, { hash: string }>>;
    };
    const listed = Object.values(pending).flatMap((bySender) => Object.values(bySender).map((tx) => tx.hash));
    const receipts = await Promise.all(listed.map((hash) => rpc("eth_getTransactionReceipt", [hash])));
    const mined = listed.filter((_, i) => receipts[i] != null);
    if (mined.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`anvil's pool still lists mined transactions after ${POOL_SETTLE_TIMEOUT_MS} ms: ${mined}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * `anvil_reorg` once the pool has settled (`anvilPoolSettled`): replaces the last `depth` blocks with empty ones at the
 * same height; their transactions leave the chain and the pool.
 */
export async function reorgAnvil(rpc: AnvilRpc, depth: number): Promise<void> {
  await anvilPoolSettled(rpc);
  await rpc("anvil_reorg", [depth, []]);
}
