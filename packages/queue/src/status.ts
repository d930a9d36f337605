import type { TxRequestStatus } from "@certchain/db";

/** Published on `txStatusChannel(prefix)` at every status change, for the API to stream to clients. */
export type TxStatusEvent = {
  requestId: string;
  status: TxRequestStatus;
  txHash: `0x${string}` | null;
  /** Set with `failed`: a decoded custom error name (`NotIssuer`), `reverted`, `insufficient_funds`, … */
  errorCode: string | null;
};
