import type { Common } from "../common.ts";
import { ChainMovedError, classifyRpcError, FatalError } from "../errors.ts";

/** Backoff between attempts: 100 ms doubling to 5 s, so a node that is back is noticed within seconds. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs an RPC call until it succeeds, backing off on retryable errors (the node down, a timeout) for as long as the
 * process runs: an indexer that gives up on a node restart would need a human. Fatal errors and shutdown end it.
 * `onRetryable` may rethrow to let the caller handle a class itself (e.g. a smaller log range).
 */
export async function withRetry<T>(
  common: Pick<Common, "logger" | "metrics" | "shutdown">,
  what: string,
  call: () => Promise<T>,
  onRetryable?: (error: Error) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const classified = classifyRpcError(error);
      common.metrics.rpcErrors.inc({ kind: classified.name });
      // The chain moving is not the node failing: the caller re-reads the head at once instead of backing off.
      if (classified instanceof FatalError || classified instanceof ChainMovedError) throw classified;
      onRetryable?.(classified);
      if (common.shutdown.isShuttingDown) throw classified;
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
      // The first failures are routine (a reorg in flight, a busy node); repeated ones deserve attention.
      const level = attempt < 3 ? "debug" : "warn";
      common.logger[level]({ call: what, attempt, delayMs: delay, error: classified.message }, "Retrying RPC call");
      await sleep(delay);
    }
  }
}
