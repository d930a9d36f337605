import { type Db, type DbTransaction, transactions, txRequestHashes, txRequests } from "@certchain/db";
import type { TxStatusEvent } from "@certchain/queue";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Address, Hash } from "viem";
import { caseById, chunks, lockInStatus, ROW_LOCKS_ONLY } from "./bulk-sql.ts";
import type { PendingTransaction, SignedVariant } from "./requests.ts";

/**
 * What a wallet's batch writes: its signatures, then its broadcasts, each as a few multi-row statements in one MySQL
 * transaction instead of a transaction per request. Status changes lock the rows first and change only those still in
 * the expected status, so when two processes race over the same rows each change happens, and is published, once.
 */

/** Publishes status changes (Redis pub/sub), after the transaction that made them has committed. */
export type PublishStatus = (events: TxStatusEvent[]) => Promise<void>;

/** A first signature of a queued request, ready to be stored before its broadcast. */
export type OriginalVariant = SignedVariant & {
  requestId: string;
  fromAddress: Address;
  errorCode: string | null;
  pending: PendingTransaction;
};

export type TxRequestBatches = {
  /** Publishes status changes, e.g. those `persistOriginals` returns once its transaction has committed. */
  publish: PublishStatus;
  /**
   * Inside the transaction that reserved the nonces (and still locks the rows): stores every original with its
   * `pending` transactions row and moves the requests to `signed`. Returns the events to publish after the commit.
   */
  persistOriginals(tx: DbTransaction, originals: OriginalVariant[]): Promise<TxStatusEvent[]>;
  /** `signed → sent` for broadcasts the node accepted. */
  markSent(sent: ReadonlyArray<{ requestId: string; txHash: Hash }>): Promise<void>;
};

export function createTxRequestBatches(deps: { db: Db; publish: PublishStatus }): TxRequestBatches {
  const { db, publish } = deps;

  return {
    publish,

    async persistOriginals(tx, originals) {
      const events: TxStatusEvent[] = [];
      for (const chunk of chunks(originals)) {
        await tx.insert(txRequestHashes).values(
          chunk.map((original) => ({
            txRequestId: original.requestId,
            purpose: "original" as const,
            nonce: original.nonce,
            txHash: original.txHash,
            rawTx: original.rawTx,
            maxFeePerGas: original.maxFeePerGas,
            maxPriorityFeePerGas: original.maxPriorityFeePerGas,
          })),
        );
        await tx
          .insert(transactions)
          .values(
            chunk.map((original) => ({
              txHash: original.txHash,
              fromAddress: original.fromAddress,
              toAddress: original.to.toLowerCase() as Address,
              amount: original.pending.amount ?? original.pending.value,
              tokenId: original.pending.tokenId,
              currencyAddress: original.pending.currencyAddress,
              status: "pending" as const,
              kind: original.pending.kind,
              txRequestId: original.requestId,
            })),
          )
          // The indexer may have seen a hash first; its row wins.
          .onDuplicateKeyUpdate({ set: { txHash: sql`tx_hash` } });
        await tx
          .update(txRequests)
          .set({
            status: "signed",
            nonce: caseById(chunk.map((original) => [original.requestId, original.nonce])),
            rawTx: caseById(chunk.map((original) => [original.requestId, original.rawTx])),
            txHash: caseById(chunk.map((original) => [original.requestId, original.txHash])),
            toAddress: sql`IFNULL(${txRequests.toAddress}, ${caseById(
              chunk.map((original) => [original.requestId, original.to.toLowerCase()]),
            )})`,
          })
          .where(
            inArray(
              txRequests.id,
              chunk.map((original) => original.requestId),
            ),
          );
        for (const original of chunk) {
          events.push({
            requestId: original.requestId,
            status: "signed",
            txHash: original.txHash,
            errorCode: original.errorCode,
          });
        }
      }
      return events;
    },

    async markSent(sent) {
      if (sent.length === 0) return;
      const now = new Date();
      const events = await db.transaction(async (tx) => {
        const rows = await lockInStatus(
          tx,
          sent.map((item) => item.requestId),
          ["signed"],
        );
        if (rows.length === 0) return [];
        const ids = rows.map((row) => row.id);
        await tx
          .update(txRequestHashes)
          .set({ status: "sent", sentAt: now })
          .where(
            and(
              inArray(
                txRequestHashes.txHash,
                sent.map((item) => item.txHash),
              ),
              eq(txRequestHashes.status, "signed"),
            ),
          );
        await tx
          .update(txRequests)
          .set({ status: "sent", sentAt: sql`IFNULL(${txRequests.sentAt}, ${now})` })
          .where(inArray(txRequests.id, ids));
        return rows.map(
          (row): TxStatusEvent => ({
            requestId: row.id,
            status: "sent",
            txHash: row.txHash,
            errorCode: row.errorCode,
          }),
        );
      }, ROW_LOCKS_ONLY);
      await publish(events);
    },
  };
}
