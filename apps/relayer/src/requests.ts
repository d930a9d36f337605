import {
  type Db,
  type DbExecutor,
  isDuplicateKeyError,
  type TxRequest,
  type TxRequestHash,
  type TxRequestHashPurpose,
  type TxRequestStatus,
  transactions,
  txRequestHashes,
  txRequests,
} from "@certchain/db";
import type { TxStatusEvent } from "@certchain/queue";
import DataLoader from "dataloader";
import { and, asc, desc, eq, inArray, ne, sql } from "drizzle-orm";
import type { Address, Hash, Hex, TransactionReceipt } from "viem";
import { ROW_LOCKS_ONLY } from "./bulk-sql.ts";
import type { CallEffect } from "./calls.ts";
import type { PublishStatus } from "./request-batches.ts";

/** A signed transaction for a request, as persisted before its broadcast. */
export type SignedVariant = {
  purpose: TxRequestHashPurpose;
  nonce: number;
  rawTx: Hex;
  txHash: Hash;
  to: Address;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
};

/** What a `transactions` row needs besides the hash: the request's kind and what it moves. */
export type PendingTransaction = CallEffect & {
  kind: (typeof transactions.$inferInsert)["kind"];
  value: bigint;
};

export type TxRequestStore = {
  load(requestId: string): Promise<TxRequest | undefined>;
  /** `sent` requests first broadcast more than `olderThanMs` ago, oldest first: who sends them, at which nonce. */
  staleSent(
    olderThanMs: number,
    limit: number,
  ): Promise<Array<{ id: string; fromAddress: Address | null; nonce: number | null }>>;
  /** Every signed variant of the request, newest first. */
  variants(requestId: string): Promise<TxRequestHash[]>;
  /**
   * Persists a signed variant and its `pending` transactions row, in one MySQL transaction, before any broadcast. The
   * original is only written while the request is still unsigned (a second worker on the same request, after a lock
   * lapse, gets the first one's bytes back instead of signing a rival).
   */
  persistVariant(request: TxRequest, variant: SignedVariant, pending: PendingTransaction): Promise<SignedVariant>;
  markSent(request: TxRequest, txHash: Hash): Promise<void>;
  markMined(request: TxRequest, variant: TxRequestHash, receipt: TransactionReceipt): Promise<void>;
  /** Fails a request that holds no nonce; false if it got one meanwhile (then it must be cancelled instead). */
  failUnsent(request: TxRequest, code: string, message: string): Promise<boolean>;
  /** Records why a request holding a nonce is being cancelled; it ends `failed` once the cancel is final. */
  recordFailureReason(request: TxRequest, code: string, message: string): Promise<void>;
  /**
   * Gives up a nonce that a foreign transaction used: forgets the request's variants and sends it back to `queued`
   * for a fresh nonce. Safe because none of its variants can be mined any more at that nonce.
   */
  requeueForNewNonce(request: TxRequest): Promise<void>;
  /**
   * A foreign transaction used the nonce of a request that was only being cancelled (its failure already decided):
   * the nonce is used up, which is all the cancel was for, so the request ends `failed` with its recorded reason
   * (`cancelled` if none) and its variants `dropped`.
   */
  endCancelWithLostNonce(request: TxRequest): Promise<void>;
  /** Counts a failed processing attempt; returns the new count. */
  countAttempt(requestId: string): Promise<number>;
};

export function createTxRequestStore(deps: { db: Db; publish: PublishStatus }): TxRequestStore {
  const { db, publish } = deps;
  // Every job reads its request at least once, and under load many jobs start at the same moment: their reads go out
  // as one query (a round trip costs far more than a row). Nothing is cached, so every read sees the row as of a
  // moment after it was asked for. A lone read uses a statement built once (drizzle's builder costs more CPU than the
  // round trip).
  const loadById = db
    .select()
    .from(txRequests)
    .where(eq(txRequests.id, sql.placeholder("requestId")))
    .prepare();
  const loader = new DataLoader<string, TxRequest | undefined>(
    async (ids) => {
      const rows =
        ids.length === 1
          ? await loadById.execute({ requestId: ids[0] })
          : await db
              .select()
              .from(txRequests)
              .where(inArray(txRequests.id, [...ids]));
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id));
    },
    { cache: false, maxBatchSize: 500, batchScheduleFn: (load) => setImmediate(load) },
  );

  /**
   * A status change made only if the request is still in `from`. Returns the event to publish (after the commit, when
   * `executor` is a transaction), or nothing when no change happened.
   */
  const transition = async (
    executor: DbExecutor,
    request: TxRequest,
    from: readonly TxRequestStatus[],
    to: TxRequestStatus,
    set: Partial<typeof txRequests.$inferInsert> = {},
  ): Promise<TxStatusEvent[]> => {
    const [result] = await executor
      .update(txRequests)
      .set({ ...set, status: to })
      .where(and(eq(txRequests.id, request.id), inArray(txRequests.status, [...from])));
    if (result.affectedRows !== 1 || to === request.status) return [];
    return [
      {
        requestId: request.id,
        status: to,
        txHash: set.txHash ?? request.txHash,
        errorCode: set.errorCode ?? request.errorCode,
      },
    ];
  };

  /** Locks the request and drops every variant: its nonce is lost, and their pending history rows end failed. */
  const dropVariants = async (tx: DbExecutor, request: TxRequest) => {
    await tx.select({ id: txRequests.id }).from(txRequests).where(eq(txRequests.id, request.id)).for("update");
    await tx.update(txRequestHashes).set({ status: "dropped" }).where(eq(txRequestHashes.txRequestId, request.id));
    await tx
      .update(transactions)
      .set({ status: "failed", failureReason: "dropped" })
      .where(and(eq(transactions.txRequestId, request.id), eq(transactions.status, "pending")));
  };

  return {
    load(requestId) {
      return loader.load(requestId);
    },

    staleSent(olderThanMs, limit) {
      return db
        .select({ id: txRequests.id, fromAddress: txRequests.fromAddress, nonce: txRequests.nonce })
        .from(txRequests)
        .where(
          and(
            eq(txRequests.status, "sent"),
            sql`COALESCE(${txRequests.sentAt}, ${txRequests.updatedAt}) < NOW(3) - INTERVAL ${olderThanMs * 1000} MICROSECOND`,
          ),
        )
        .orderBy(asc(txRequests.id))
        .limit(limit);
    },

    variants(requestId) {
      return db
        .select()
        .from(txRequestHashes)
        .where(eq(txRequestHashes.txRequestId, requestId))
        .orderBy(desc(txRequestHashes.id));
    },

    async persistVariant(request, variant, pending) {
      let persisted = variant;
      let published = false;
      try {
        await db.transaction(async (tx) => {
          const [current] = await tx.select().from(txRequests).where(eq(txRequests.id, request.id)).for("update");
          if (!current) throw new Error(`tx request ${request.id} vanished`);
          if (variant.purpose === "original" && current.rawTx !== null && current.txHash !== null) {
            const [existing] = await tx
              .select()
              .from(txRequestHashes)
              .where(eq(txRequestHashes.txHash, current.txHash));
            if (!existing) throw new Error(`tx request ${request.id} has bytes but no variant`);
            persisted = { ...variant, rawTx: existing.rawTx, txHash: existing.txHash, nonce: existing.nonce };
            return;
          }
          await tx.insert(txRequestHashes).values({
            txRequestId: request.id,
            purpose: variant.purpose,
            nonce: variant.nonce,
            txHash: variant.txHash,
            rawTx: variant.rawTx,
            maxFeePerGas: variant.maxFeePerGas,
            maxPriorityFeePerGas: variant.maxPriorityFeePerGas,
          });
          const isCancel = variant.purpose === "cancel";
          await tx
            .insert(transactions)
            .values({
              txHash: variant.txHash,
              fromAddress: current.fromAddress as Address,
              toAddress: variant.to.toLowerCase() as Address,
              amount: isCancel ? 0n : (pending.amount ?? pending.value),
              tokenId: isCancel ? null : pending.tokenId,
              currencyAddress: isCancel ? null : pending.currencyAddress,
              status: "pending",
              kind: isCancel ? "other" : pending.kind,
              txRequestId: request.id,
            })
            // The indexer may have seen the hash first; its row wins.
            .onDuplicateKeyUpdate({ set: { txHash: sql`tx_hash` } });
          const set = {
            nonce: variant.nonce,
            rawTx: variant.rawTx,
            txHash: variant.txHash,
            toAddress: current.toAddress ?? (variant.to.toLowerCase() as Address),
          };
          if (current.status === "queued") {
            await tx
              .update(txRequests)
              .set({ ...set, status: "signed" })
              .where(eq(txRequests.id, request.id));
            published = true;
          } else {
            await tx.update(txRequests).set(set).where(eq(txRequests.id, request.id));
          }
        }, ROW_LOCKS_ONLY);
      } catch (error) {
        // Signing is deterministic: two workers signing the same variant get the same hash, and the first one stored it.
        if (isDuplicateKeyError(error, "tx_request_hashes_tx_hash_uq")) return variant;
        throw error;
      }
      if (published) {
        await publish([
          { requestId: request.id, status: "signed", txHash: persisted.txHash, errorCode: request.errorCode },
        ]);
      }
      return persisted;
    },

    async markSent(request, txHash) {
      const now = new Date();
      await db
        .update(txRequestHashes)
        .set({ status: "sent", sentAt: now })
        .where(and(eq(txRequestHashes.txHash, txHash), eq(txRequestHashes.status, "signed")));
      await publish(await transition(db, request, ["signed"], "sent", { sentAt: request.sentAt ?? now }));
    },

    async markMined(request, variant, receipt) {
      const now = new Date();
      const events = await db.transaction(async (tx) => {
        // The request row first, as the follower's batches lock them: rows before their variants, never the reverse.
        const [current] = await tx
          .select({ status: txRequests.status, blockHash: txRequests.blockHash, errorCode: txRequests.errorCode })
          .from(txRequests)
          .where(eq(txRequests.id, request.id))
          .for("update");
        if (!current || !["signed", "sent", "mined"].includes(current.status)) return [];
        if (current.status === "mined" && current.blockHash === receipt.blockHash) return [];
        await tx
          .update(txRequests)
          .set({
            status: "mined",
            txHash: variant.txHash,
            rawTx: variant.rawTx,
            blockNumber: Number(receipt.blockNumber),
            blockHash: receipt.blockHash,
            sentAt: sql`IFNULL(${txRequests.sentAt}, ${now})`,
          })
          .where(eq(txRequests.id, request.id));
        await tx
          .update(txRequestHashes)
          .set({
            status: sql`IF(tx_hash = ${variant.txHash}, 'mined', 'replaced')`,
            sentAt: sql`IFNULL(${txRequestHashes.sentAt}, ${now})`,
          })
          // Dropped variants held a nonce that was lost; they stay dropped.
          .where(and(eq(txRequestHashes.txRequestId, request.id), ne(txRequestHashes.status, "dropped")));
        const event = { requestId: request.id, txHash: variant.txHash, errorCode: current.errorCode };
        // A signed request found in a block evidently was broadcast: it passes through `sent`.
        if (current.status === "signed")
          return [
            { ...event, status: "sent" as const },
            { ...event, status: "mined" as const },
          ];
        return current.status === "sent" ? [{ ...event, status: "mined" as const }] : [];
      }, ROW_LOCKS_ONLY);
      await publish(events);
    },

    async failUnsent(request, code, message) {
      const [result] = await db
        .update(txRequests)
        .set({ status: "failed", errorCode: code, errorMessage: message })
        .where(and(eq(txRequests.id, request.id), eq(txRequests.status, "queued"), sql`${txRequests.nonce} IS NULL`));
      if (result.affectedRows !== 1) return false;
      await publish([{ requestId: request.id, status: "failed", txHash: null, errorCode: code }]);
      return true;
    },

    async recordFailureReason(request, code, message) {
      await db.update(txRequests).set({ errorCode: code, errorMessage: message }).where(eq(txRequests.id, request.id));
    },

    async requeueForNewNonce(request) {
      const events = await db.transaction(async (tx) => {
        await dropVariants(tx, request);
        return transition(tx, request, ["signed", "sent"], "queued", {
          nonce: null,
          rawTx: null,
          txHash: null,
          sentAt: null,
        });
      }, ROW_LOCKS_ONLY);
      await publish(events);
    },

    async endCancelWithLostNonce(request) {
      const events = await db.transaction(async (tx) => {
        await dropVariants(tx, request);
        return transition(tx, request, ["signed", "sent"], request.errorCode ? "failed" : "cancelled", {
          confirmedAt: new Date(),
        });
      }, ROW_LOCKS_ONLY);
      await publish(events);
    },

    async countAttempt(requestId) {
      await db
        .update(txRequests)
        .set({ attempts: sql`${txRequests.attempts} + 1` })
        .where(eq(txRequests.id, requestId));
      const [row] = await db
        .select({ attempts: txRequests.attempts })
        .from(txRequests)
        .where(eq(txRequests.id, requestId));
      return row?.attempts ?? 0;
    },
  };
}
