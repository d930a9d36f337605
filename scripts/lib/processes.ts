import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

const COLORS = [36, 35, 33, 32, 34, 31] as const;
const useColor = process.stdout.isTTY;

/** `name | ` in a stable color per name, padded so the columns line up. */
export function createPrefixer(names: readonly string[]) {
  const width = Math.max(...names.map((n) => n.length));
  return (name: string) => {
    const index = Math.max(0, names.indexOf(name));
    const label = name.padEnd(width);
    return useColor ? `\x1b[${COLORS[index % COLORS.length]}m${label}\x1b[0m | ` : `${label} | `;
  };
}

export type ManagedProcess = {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
};

function pipeLines(stream: Readable | null, write: (line: string) => void) {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", write);
}

/** Spawns a long-running process whose output lines (those `show` keeps) are shown with `prefix`. */
export function startProcess(
  name: string,
  prefix: string,
  command: string,
  args: readonly string[],
  show: (line: string) => boolean = () => true,
): ManagedProcess {
  // Its own process group, so stopping it also stops what npm/tsx spawned underneath.
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  pipeLines(child.stdout, (line) => show(line) && process.stdout.write(`${prefix}${line}\n`));
  pipeLines(child.stderr, (line) => show(line) && process.stderr.write(`${prefix}${line}\n`));
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    child.once("error", (error) => {
      process.stderr.write(`${prefix}failed to start: ${error.message}\n`);
      resolve(1);
    });
  });
  return { name, child, exited };
}

/**
 * What of anvil's output `npm run dev` shows: transactions (hash, contract created, gas, revert reasons) with the block
 * that mined them, warnings and errors. Left out: the name of every RPC call (the indexer and relayer poll several
 * times a second) and the empty block mined every second, which would bury the apps' lines. For all of it, start
 * anvil yourself on ETH_NODE_URL; `npm run dev` uses a node that already answers there.
 */
export function anvilLines(): (line: string) => boolean {
  let transactionSinceBlock = false;
  return (line) => {
    const text = line.trim();
    if (text === "" || /^[a-z]+_[A-Za-z0-9]+$/.test(text)) return false;
    if (text.startsWith("Transaction:")) transactionSinceBlock = true;
    if (text.startsWith("Block Hash:") || text.startsWith("Block Time:")) return false;
    if (text.startsWith("Block Number:")) {
      const show = transactionSinceBlock;
      transactionSinceBlock = false;
      return show;
    }
    return true;
  };
}

const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Sends SIGTERM to the process group and waits until every process in it is gone, then SIGKILLs the group if any is
 * still there after `graceMs`. Waiting on the group, not on the direct child: `npm run` exits as soon as it forwards
 * the signal, while the app it started is still shutting down.
 */
export async function stopProcess(managed: ManagedProcess, graceMs = 10_000): Promise<void> {
  const pid = managed.child.pid;
  if (pid === undefined || !groupAlive(pid)) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  signalGroup("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  if (groupAlive(pid)) signalGroup("SIGKILL");
  await managed.exited;
}
