import type { RpcLog } from "viem";
import type { Common } from "../common.ts";
import { FatalError, RangeTooLargeError } from "../errors.ts";
import { withRetry } from "./retry.ts";
import type { Rpc } from "./rpc.ts";

/*
 * Adaptive `eth_getLogs` ranges. Tuning, from TOOLCHAIN.md: anvil answers ~44,000 logs/s in 5,000-log calls, and
 * viem refuses answers over 10 MiB (~14,000 logs), so a range aims at a few thousand logs.
 */
const INITIAL_RANGE = 500;
const MAX_RANGE = 50_000;
/** Grow after an answer this fast and this small… */
const GROW_BELOW_MS = 1_000;
const GROW_BELOW_LOGS = 5_000;
const GROW_FACTOR = 1.5;
/** …and halve on "too many results", a body over 10 MiB or a timeout. */
const SHRINK_FACTOR = 0.5;

export type LogFetcher = {
  /** Every log of our contracts in [from, to], in chain order, however many calls that takes. */
  fetchLogs(from: number, to: number): Promise<RpcLog[]>;
  /** The current range in blocks (a metric and a test hook). */
  readonly range: number;
};

export function createLogFetcher(
  common: Pick<Common, "logger" | "metrics" | "shutdown">,
  rpc: Rpc,
  addresses: readonly `0x${string}`[],
): LogFetcher {
  let range = INITIAL_RANGE;

  return {
    get range() {
      return range;
    },
    async fetchLogs(from, to) {
      const logs: RpcLog[] = [];
      let start = from;
      while (start <= to) {
        const end = Math.min(to, start + Math.floor(range) - 1);
        const started = performance.now();
        const chunk = await withRetry(
          common,
          "eth_getLogs",
          () => rpc.getLogs(start, end, addresses),
          (error) => {
            if (!(error instanceof RangeTooLargeError)) return;
            if (end === start)
              throw new FatalError(`eth_getLogs fails for the single block ${start}: ${error.message}`);
            range = Math.max(1, Math.floor((end - start + 1) * SHRINK_FACTOR));
            // Rethrow so the loop below asks again with the smaller range rather than retrying the same one.
            throw error;
          },
        ).catch((error: unknown) => {
          if (error instanceof RangeTooLargeError) return undefined;
          throw error;
        });
        if (chunk === undefined) continue;
        logs.push(...chunk);
        if (performance.now() - started < GROW_BELOW_MS && chunk.length < GROW_BELOW_LOGS) {
          range = Math.min(MAX_RANGE, range * GROW_FACTOR);
        }
        start = end + 1;
      }
      return logs;
    },
  };
}
