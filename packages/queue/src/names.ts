import type { JobsOptions } from "bullmq";

/** The one BullMQ queue of outgoing transactions; each job's name is its request's kind, its id the request id. */
export const TX_REQUESTS_QUEUE = "tx-requests";

/** What a job carries: only the request id. The payload lives in `tx_requests`, the single source of truth. */
export type TxRequestJobData = { requestId: string };

/**
 * Jobs drive a request until the node has accepted it (the relayer's block follower tracks it from there), so retries
 * are many and spaced; finished jobs are removed because the request row, not the job, is the record (and a kept job
 * would block the sweeper from re-adding a lost one).
 */
export const TX_REQUEST_JOB_OPTIONS: JobsOptions = {
  attempts: 20,
  backoff: { type: "exponential", delay: 1000 },
  removeOnComplete: true,
  removeOnFail: true,
};

/** Redis pub/sub channel on which the relayer publishes every status change (`TxStatusEvent` JSON). */
export function txStatusChannel(redisPrefix: string): string {
  return `${redisPrefix}:tx-status`;
}
