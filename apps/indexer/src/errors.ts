import {
  BaseError,
  HttpRequestError,
  InvalidParamsRpcError,
  LimitExceededRpcError,
  MethodNotFoundRpcError,
  ResponseBodyTooLargeError,
  TimeoutError,
} from "viem";

/*
 * The indexer's error classes. Retry logic switches on the class, never on message text: `classifyRpcError` is the
 * one place that reads a node's messages.
 */

/** A failure that is expected to pass: the node is down or slow, the chain moved while we read it. Back off, retry. */
export class RetryableError extends Error {
  override name = "RetryableError";
}

/** A failure that retrying cannot fix: a wrong configuration, a node that answers nonsense. Stop. */
export class FatalError extends Error {
  override name = "FatalError";
}

/** The node refused or could not return a log range that large: ask for fewer blocks. */
export class RangeTooLargeError extends RetryableError {
  override name = "RangeTooLargeError";
}

/** The chain changed between two reads of one batch (a reorg in progress): read the batch again. */
export class ChainMovedError extends RetryableError {
  override name = "ChainMovedError";
}

/** Another instance holds the lease now: this one must stop writing at once. */
export class LeaseLostError extends FatalError {
  override name = "LeaseLostError";
}

/**
 * The chain replaced a block we treat as final (deeper than FINALITY_DEPTH). Not retryable and not fixable by the
 * indexer alone: it stops indexing, `/readyz` answers 503, and an operator runs `npm run indexer -- --rebuild`.
 */
export class DeepReorgError extends FatalError {
  override name = "DeepReorgError";
  constructor(
    readonly blockNumber: number,
    readonly indexedHash: string,
    readonly canonicalHash: string,
  ) {
    super(
      `reorg deeper than the finality window at block ${blockNumber}: indexed ${indexedHash}, chain has ${canonicalHash}`,
    );
  }
}

/** Messages nodes use for "too many logs in one answer" (geth, erigon, alchemy, infura, quicknode, anvil). */
const RANGE_TOO_LARGE = /too many|more than \d+ results|limit exceeded|range is too large|block range|response size/i;

/** Sorts an error thrown by a viem call into the classes above. */
export function classifyRpcError(error: unknown): RetryableError | FatalError {
  if (error instanceof RetryableError || error instanceof FatalError) return error;
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  if (error instanceof BaseError) {
    if (error.walk((e) => e instanceof ResponseBodyTooLargeError || e instanceof LimitExceededRpcError)) {
      return new RangeTooLargeError(message, { cause: error });
    }
    if (RANGE_TOO_LARGE.test(error.details ?? "") || RANGE_TOO_LARGE.test(error.shortMessage)) {
      return new RangeTooLargeError(message, { cause: error });
    }
    if (error.walk((e) => e instanceof MethodNotFoundRpcError)) return new FatalError(message, { cause: error });
    // Nodes answer "invalid params" for a block range past their head, which happens for a moment while they reorg
    // (anvil_reorg shortens the chain before it re-mines): the chain moved, read it again.
    if (error.walk((e) => e instanceof InvalidParamsRpcError)) return new ChainMovedError(message, { cause: error });
    if (error.walk((e) => e instanceof TimeoutError)) return new RangeTooLargeError(message, { cause: error });
    if (error.walk((e) => e instanceof HttpRequestError)) return new RetryableError(message, { cause: error });
  }
  // Connection resets, refused sockets and 5xx answers surface in many shapes; treat unknown failures as transient
  // and let the caller's backoff (and the lag on /readyz) make a persistent one visible.
  return new RetryableError(message, { cause: error });
}
