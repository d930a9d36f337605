import { type TxRequestStatus, txRequestStatuses } from "@certchain/db";
import { parseJsonObject } from "./messages.ts";

/** Published on `txStatusChannel(prefix)` at every status change, for the API to stream to clients. */
export type TxStatusEvent = {
  requestId: string;
  status: TxRequestStatus;
  txHash: `0x${string}` | null;
  /** Set with `failed`: a decoded custom error name (`NotIssuer`), `reverted`, `insufficient_funds`, … */
  errorCode: string | null;
};

const statuses: ReadonlySet<string> = new Set(txRequestStatuses);

/** A `TxStatusEvent` from the channel's JSON, or null when the message is not one. */
export function parseTxStatusEvent(message: string): TxStatusEvent | null {
  const value = parseJsonObject(message);
  if (!value) return null;
  const { requestId, status, txHash, errorCode } = value;
  if (typeof requestId !== "string" || typeof status !== "string" || !statuses.has(status)) return null;
  return {
    requestId,
    status: status as TxStatusEvent["status"],
    txHash: typeof txHash === "string" && /^0x[0-9a-fA-F]{64}$/.test(txHash) ? (txHash as `0x${string}`) : null,
    errorCode: typeof errorCode === "string" ? errorCode : null,
  };
}
