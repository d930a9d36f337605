/**
 * The relayer's two kinds of failure. Retry logic switches on the class, never on message text:
 * - `RetryableError`: the request may still succeed (node unreachable, nonce not yet usable); the job is retried.
 * - `FatalError`: the request can never succeed as asked (it would revert, the wallet is unknown, no funds in
 *   production); it ends `failed` with `code` as its machine-readable reason.
 */
export class RetryableError extends Error {
  override name = "RetryableError";
}

/** The node refused a broadcast because the wallet cannot pay its most (gas × max fee + value); it may later. */
export class ShortOfFundsError extends RetryableError {
  override name = "ShortOfFundsError";
}

/** The node refused a broadcast whose max fee is below the base fee: the request needs new fees, not a resend. */
export class UnderpricedError extends RetryableError {
  override name = "UnderpricedError";
}

export class FatalError extends Error {
  override name = "FatalError";
  constructor(
    /** `tx_requests.error_code`: a decoded custom error (`NotIssuer`), `reverted`, `insufficient_funds`, … */
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
