import {
  type DbExecutor,
  isDuplicateKeyError,
  isTxRequestId,
  newTxRequestId,
  type TxRequestStatus,
  txRequests,
} from "@certchain/db";
import type { Queue } from "bullmq";
import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { TX_REQUEST_JOB_OPTIONS, type TxRequestJobData } from "./names.ts";
import { parseTxRequestPayload, type TxRequestInput } from "./payloads.ts";

/** Statuses after which nothing more happens to a request (its job is done). */
export const FINAL_TX_REQUEST_STATUSES = [
  "confirmed",
  "failed",
  "replaced",
  "cancelled",
] as const satisfies readonly TxRequestStatus[];
export const LIVE_TX_REQUEST_STATUSES = [
  "queued",
  "signed",
  "sent",
  "mined",
] as const satisfies readonly TxRequestStatus[];
/**
 * Live statuses in which a request needs its job: until the node has accepted it. From `sent` on, the relayer's
 * block follower tracks it, with no job.
 */
export const UNSENT_TX_REQUEST_STATUSES = ["queued", "signed"] as const satisfies readonly TxRequestStatus[];

export type SubmitTxRequest = TxRequestInput & {
  /** Who asks; `null` for the platform's own requests. Scopes the idempotency key. */
  userId: number | null;
  /** Unique per user: submitting the same key again returns the first request and sends nothing new. */
  idempotencyKey: string;
  /** The wallet that signs: the user's custodial wallet or the operator's address. */
  from: `0x${string}`;
  /**
   * A request of the same user (or of the platform, for `userId: null`) that must be mined before this one is even
   * simulated: `list` after its `approve`, a token-priced `buy` after its allowance. If it fails, this one fails with
   * `dependency_failed`.
   */
  dependsOn?: string;
};

/** `dependsOn` names no request of the submitting user; nothing was written. */
export class TxRequestDependencyError extends Error {
  override name = "TxRequestDependencyError";
}

export type SubmittedTxRequest = {
  requestId: string;
  /** False when the idempotency key had been used: `requestId` is the earlier request's. */
  created: boolean;
};

export type TxRequestProducer = {
  /**
   * Writes the `tx_requests` row, then adds the job with the request id as job id. A crash between the two leaves a
   * queued row with no job, which `enqueueOrphans` finds; adding an id that is already queued is a no-op in BullMQ.
   */
  submit(request: SubmitTxRequest): Promise<SubmittedTxRequest>;
  /** Adds a job for every unsent request older than `olderThanMs` that has none; returns how many it added. */
  enqueueOrphans(olderThanMs: number): Promise<number>;
};

const ORPHAN_BATCH = 500;

export function createTxRequestProducer(deps: { db: DbExecutor; queue: Queue<TxRequestJobData> }): TxRequestProducer {
  const { db, queue } = deps;
  const enqueue = (requestId: string, kind: string) =>
    queue.add(kind, { requestId }, { ...TX_REQUEST_JOB_OPTIONS, jobId: requestId });

  return {
    async submit(request) {
      const parsed = parseTxRequestPayload(request.kind, request.payload);
      if (request.dependsOn !== undefined) await checkDependency(db, request.dependsOn, request.userId);
      const requestId = newTxRequestId();
      try {
        await db.insert(txRequests).values({
          id: requestId,
          userId: request.userId,
          idempotencyKey: request.idempotencyKey,
          kind: parsed.kind,
          payload: parsed.payload,
          fromAddress: request.from.toLowerCase() as `0x${string}`,
          dependsOn: request.dependsOn ?? null,
        });
      } catch (error) {
        if (!isDuplicateKeyError(error, "tx_requests_idempotency_uq")) throw error;
        const [existing] = await db
          .select({ id: txRequests.id, kind: txRequests.kind, status: txRequests.status })
          .from(txRequests)
          .where(
            and(
              eq(txRequests.idempotencyScope, request.userId ?? 0),
              eq(txRequests.idempotencyKey, request.idempotencyKey),
            ),
          );
        if (!existing) throw error;
        // The first submit may have died before adding its job; re-adding is a no-op when the job exists.
        if ((UNSENT_TX_REQUEST_STATUSES as readonly string[]).includes(existing.status)) {
          await enqueue(existing.id, existing.kind);
        }
        return { requestId: existing.id, created: false };
      }
      await enqueue(requestId, parsed.kind);
      return { requestId, created: true };
    },

    async enqueueOrphans(olderThanMs) {
      const rows = await db
        .select({ id: txRequests.id, kind: txRequests.kind })
        .from(txRequests)
        .where(
          and(
            inArray(txRequests.status, [...UNSENT_TX_REQUEST_STATUSES]),
            lt(txRequests.updatedAt, sql`NOW() - INTERVAL ${Math.ceil(olderThanMs / 1000)} SECOND`),
          ),
        )
        .orderBy(txRequests.id)
        .limit(ORPHAN_BATCH);
      let added = 0;
      for (const row of rows) {
        if (await queue.getJob(row.id)) continue;
        await enqueue(row.id, row.kind);
        added += 1;
      }
      return added;
    },
  };
}

/**
 * Checked before the insert so a bad id is a clear error rather than a foreign-key failure. Requests are never deleted,
 * so a dependency that exists now still exists at the insert. Another user's request reads as unknown: whether it
 * exists is none of this user's business.
 */
async function checkDependency(db: DbExecutor, dependsOn: string, userId: number | null): Promise<void> {
  const unknown = () => new TxRequestDependencyError(`dependsOn ${dependsOn} is not a request of this user`);
  if (!isTxRequestId(dependsOn)) throw unknown();
  const [dependency] = await db
    .select({ userId: txRequests.userId })
    .from(txRequests)
    .where(eq(txRequests.id, dependsOn));
  if (!dependency || dependency.userId !== userId) throw unknown();
}
