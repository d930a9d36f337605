import { randomBytes } from "node:crypto";

/** A `tx_requests.id`: a lowercase UUIDv7, e.g. `01936f0e-8c4a-7b3e-9f1d-2a6c5e4b3a21`. */
export type TxRequestId = string;

export const TX_REQUEST_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * A new `tx_requests.id` (UUIDv7, RFC 9562): 48 bits of Unix milliseconds then 74 random bits. Ids sort by creation
 * time (good for InnoDB's clustered index and for "newest first"), cannot be guessed, and are valid BullMQ job ids
 * (never all digits, no `:`), so the request id is the job id.
 */
export function newTxRequestId(now: number = Date.now()): TxRequestId {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f); // variant 10
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function isTxRequestId(value: string): value is TxRequestId {
  return TX_REQUEST_ID_PATTERN.test(value);
}
