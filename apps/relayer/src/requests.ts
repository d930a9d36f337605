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
import { and, desc, eq, inArray, ne, sql } from "drizzle-orm";
import type { Address, Hash, Hex, TransactionReceipt } from "viem";
import type { CallEffect } from "./calls.ts";

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
  /** A reorg removed the block: back to `sent`, to be found in a new block or rebroadcast. */
  markUnmined(request: TxRequest): Promise<void>;
  /** Ends a request that is final on chain (`confirmed`, or `failed`/`cancelled` when its nonce went to a cancel). */
  markFinal(
    request: TxRequest,
    status: "confirmed" | "failed" | "cancelled",
    failure?: { code: string; message: string },
  ): Promise<void>;
  /** Fails a request that holds no nonce; false if it got one meanwhile (then it must be cancelled instead). */
  failUnsent(request: TxRequest, code: string, message: string): Promise<boolean>;
  /** Records why a request holding a nonce is being cancelled; it ends `failed` once the cancel is final. */
  recordFailureReason(request: TxRequest, code: string, message: string): Promise<void>;
  /**
   * Gives up a nonce that a foreign transaction used: forgets the request's variants and sends it back to `queued`
   * for a fresh nonce. Safe because none of its variants can be mined any more at that nonce.
   */
  requeueForNewNonce(request: TxRequest): Promise<void>;
  /** Counts a failed processing attempt; returns the new count. */
  countAttempt(requestId: string): Promise<number>;
};

export function createTxRequestStore(deps: {
  db: Db;
  publish: (event: TxStatusEvent) => Promise<void>;
}): TxRequestStore {
  const { db, publish } = deps;

  /** A status change made only if the request is still in `from`; publishes it when it happened. */
  const transition = async (
    executor: DbExecutor,
    request: TxRequest,
    from: readonly TxRequestStatus[],
    to: TxRequestStatus,
    set: Partial<typeof txRequests.$inferInsert> = {},
  ): Promise<boolean> => {
    const [result] = await executor
      .update(txRequests)
      .set({ ...set, status: to })
      .where(and(eq(txRequests.id, request.id), inArray(txRequests.status, [...from])));
    const changed = result.affectedRows === 1;
    if (changed && to !== request.status) {
      await publish({
        requestId: request.id,
        status: to,
        txHash: set.txHash ?? request.txHash,
        errorCode: set.errorCode ?? request.errorCode,
      });
    }
    return changed;
  };

  return {
    async load(requestId) {
      const [row] = await db.select().from(txRequests).where(eq(txRequests.id, requestId));
      return row;
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
        });
      } catch (error) {
        // Signing is deterministic: two workers signing the same variant get the same hash, and the first one stored it.
        if (isDuplicateKeyError(error, "tx_request_hashes_tx_hash_uq")) return variant;
        throw error;
      }
      if (published)
        await publish({
          requestId: request.id,
          status: "signed",
          txHash: persisted.txHash,
          errorCode: request.errorCode,
        });
      return persisted;
    },

    async markSent(request, txHash) {
      const now = new Date();
      await db
        .update(txRequestHashes)
        .set({ status: "sent", sentAt: now })
        .where(and(eq(txRequestHashes.txHash, txHash), eq(txRequestHashes.status, "signed")));
      await transition(db, request, ["signed"], "sent", { sentAt: request.sentAt ?? now });
    },

    async markMined(request, variant, receipt) {
      await db.transaction(async (tx) => {
        await tx
          .update(txRequestHashes)
          .set({ status: sql`IF(tx_hash = ${variant.txHash}, 'mined', 'replaced')` })
          // Dropped variants held a nonce that was lost; they stay dropped.
          .where(and(eq(txRequestHashes.txRequestId, request.id), ne(txRequestHashes.status, "dropped")));
        await transition(tx, request, ["signed", "sent", "mined"], "mined", {
          txHash: variant.txHash,
          rawTx: variant.rawTx,
          blockNumber: Number(receipt.blockNumber),
          blockHash: receipt.blockHash,
        });
      });
    },

    async markUnmined(request) {
      await db
        .update(txRequestHashes)
        .set({ status: "sent" })
        .where(
          and(eq(txRequestHashes.txRequestId, request.id), inArray(txRequestHashes.status, ["mined", "replaced"])),
        );
      await transition(db, request, ["mined"], "sent", { blockNumber: null, blockHash: null });
    },

    async markFinal(request, status, failure) {
      await transition(db, request, ["mined"], status, {
        confirmedAt: new Date(),
        ...(failure && { errorCode: failure.code, errorMessage: failure.message }),
      });
    },

    async failUnsent(request, code, message) {
      const [result] = await db
        .update(txRequests)
        .set({ status: "failed", errorCode: code, errorMessage: message })
        .where(and(eq(txRequests.id, request.id), eq(txRequests.status, "queued"), sql`${txRequests.nonce} IS NULL`));
      if (result.affectedRows !== 1) return false;
      await publish({ requestId: request.id, status: "failed", txHash: null, errorCode: code });
      return true;
    },

    async recordFailureReason(request, code, message) {
      await db.update(txRequests).set({ errorCode: code, errorMessage: message }).where(eq(txRequests.id, request.id));
    },

    async requeueForNewNonce(request) {
      await db.transaction(async (tx) => {
        await tx.update(txRequestHashes).set({ status: "dropped" }).where(eq(txRequestHashes.txRequestId, request.id));
        await tx
          .update(transactions)
          .set({ status: "failed", failureReason: "dropped" })
          .where(and(eq(transactions.txRequestId, request.id), eq(transactions.status, "pending")));
        await transition(tx, request, ["signed", "sent"], "queued", {
          nonce: null,
          rawTx: null,
          txHash: null,
          sentAt: null,
        });
      });
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
