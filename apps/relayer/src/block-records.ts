import { type Db, transactions, txRequestHashes, txRequests } from "@certchain/db";
import type { TxStatusEvent } from "@certchain/queue";
import { and, asc, eq, inArray, ne, notInArray, sql } from "drizzle-orm";
import type { Hash } from "viem";
import { chunks, lockInStatus, ROW_LOCKS_ONLY } from "./bulk-sql.ts";
import type { PublishStatus } from "./request-batches.ts";

/**
 * What the block follower writes: requests found in a block, blocks a reorg removed, blocks deep enough to be final.
 * Each is a few multi-row statements in one MySQL transaction; rows are found with a plain read and then locked by
 * primary key, and only those still in the expected status change, so each change happens, and is published, once.
 */

/** A request's variant found in a block. */
export type MinedVariant = { requestId: string; txHash: Hash; blockNumber: bigint; blockHash: Hash };

export type FinalOutcome = "confirmed" | "failed" | "cancelled";

export type BlockRecords = {
  /** Which of these hashes are variants of the relayer's requests (all but a handful of a block's usually are not). */
  findVariants(txHashes: readonly Hash[]): Promise<Array<{ requestId: string; txHash: Hash }>>;
  /**
   * `signed`/`sent` (or `mined` in another block) → `mined`, naming the mined variant; a `signed` request passes
   * through `sent`, since it evidently was broadcast. Siblings of the mined variant become `replaced`.
   */
  markMined(mined: readonly MinedVariant[]): Promise<void>;
  /** The blocks that hold `mined` requests, lowest first: what the follower re-checks and finalizes. */
  minedBlocks(limit: number): Promise<Array<{ blockNumber: number; blockHash: Hash }>>;
  /** A reorg removed the block: its requests go back to `sent`, to be found in a new block or rebroadcast. */
  unmineBlock(blockHash: Hash): Promise<number>;
  /**
   * The block is `FINALITY_DEPTH` deep: each of its requests ends `confirmed`, `failed` (reverted on chain, or its
   * nonce went to a cancellation of a failed request) or `cancelled`. `receipts` gives each transaction's status;
   * rows whose hash it lacks are left for the next pass. The `transactions` rows of their other broadcasts end
   * `failed` ("replaced"). Returns the outcomes by error code for the metrics.
   */
  finalizeBlock(
    blockHash: Hash,
    receipts: ReadonlyMap<Hash, "success" | "reverted">,
  ): Promise<Array<{ outcome: FinalOutcome; errorCode: string | null }>>;
};

export function createBlockRecords(deps: { db: Db; publish: PublishStatus }): BlockRecords {
  const { db, publish } = deps;

  /** The `mined` requests of a block, read without locks (see `lockInStatus`). */
  const idsInBlock = async (blockHash: Hash) =>
    (
      await db
        .select({ id: txRequests.id })
        .from(txRequests)
        .where(and(eq(txRequests.status, "mined"), eq(txRequests.blockHash, blockHash)))
    ).map((row) => row.id);

  return {
    async findVariants(txHashes) {
      const found: Array<{ requestId: string; txHash: Hash }> = [];
      for (const chunk of chunks(txHashes)) {
        const rows = await db
          .select({ requestId: txRequestHashes.txRequestId, txHash: txRequestHashes.txHash })
          .from(txRequestHashes)
          .where(inArray(txRequestHashes.txHash, chunk));
        found.push(...rows);
      }
      return found;
    },

    async markMined(mined) {
      if (mined.length === 0) return;
      const byRequest = new Map(mined.map((variant) => [variant.requestId, variant]));
      const now = new Date();
      const events = await db.transaction(async (tx) => {
        const rows = await lockInStatus(tx, [...byRequest.keys()], ["signed", "sent", "mined"]);
        const changing = rows.filter((row) => row.blockHash !== byRequest.get(row.id)?.blockHash);
        if (changing.length === 0) return [];
        const ids = changing.map((row) => row.id);
        const minedHashes = changing.map((row) => byRequest.get(row.id)?.txHash as Hash);
        await tx
          .update(txRequestHashes)
          .set({
            status: sql`IF(${inArray(txRequestHashes.txHash, minedHashes)}, 'mined', 'replaced')`,
            sentAt: sql`IFNULL(${txRequestHashes.sentAt}, ${now})`,
          })
          // Dropped variants held a nonce that was lost; they stay dropped.
          .where(and(inArray(txRequestHashes.txRequestId, ids), ne(txRequestHashes.status, "dropped")));
        // Usually the mined variant is the one the request stands behind; a fee bump or an older sibling may win.
        const switched = changing.filter((row) => row.txHash !== byRequest.get(row.id)?.txHash);
        for (const row of switched) {
          const variant = byRequest.get(row.id) as MinedVariant;
          await tx
            .update(txRequests)
            .set({
              txHash: variant.txHash,
              rawTx: sql`(SELECT ${txRequestHashes.rawTx} FROM ${txRequestHashes} WHERE ${txRequestHashes.txHash} = ${variant.txHash})`,
            })
            .where(eq(txRequests.id, row.id));
        }
        const blocks = new Map<Hash, MinedVariant[]>();
        for (const row of changing) {
          const variant = byRequest.get(row.id) as MinedVariant;
          blocks.set(variant.blockHash, [...(blocks.get(variant.blockHash) ?? []), variant]);
        }
        for (const [blockHash, variants] of blocks) {
          await tx
            .update(txRequests)
            .set({
              status: "mined",
              blockNumber: Number(variants[0]?.blockNumber),
              blockHash,
              sentAt: sql`IFNULL(${txRequests.sentAt}, ${now})`,
            })
            .where(
              inArray(
                txRequests.id,
                variants.map((variant) => variant.requestId),
              ),
            );
        }
        const events: TxStatusEvent[] = [];
        for (const row of changing) {
          const txHash = byRequest.get(row.id)?.txHash ?? null;
          const event = { requestId: row.id, txHash, errorCode: row.errorCode };
          if (row.status === "signed") events.push({ ...event, status: "sent" });
          if (row.status !== "mined") events.push({ ...event, status: "mined" });
        }
        return events;
      }, ROW_LOCKS_ONLY);
      await publish(events);
    },

    async minedBlocks(limit) {
      const rows = await db
        .selectDistinct({ blockNumber: txRequests.blockNumber, blockHash: txRequests.blockHash })
        .from(txRequests)
        .where(eq(txRequests.status, "mined"))
        .orderBy(asc(txRequests.blockNumber))
        .limit(limit);
      return rows.flatMap((row) =>
        row.blockNumber !== null && row.blockHash !== null
          ? [{ blockNumber: row.blockNumber, blockHash: row.blockHash }]
          : [],
      );
    },

    async unmineBlock(blockHash) {
      const inBlock = await idsInBlock(blockHash);
      if (inBlock.length === 0) return 0;
      const events = await db.transaction(async (tx) => {
        const rows = (await lockInStatus(tx, inBlock, ["mined"])).filter((row) => row.blockHash === blockHash);
        if (rows.length === 0) return [];
        const ids = rows.map((row) => row.id);
        await tx
          .update(txRequestHashes)
          .set({ status: "sent" })
          .where(
            and(inArray(txRequestHashes.txRequestId, ids), inArray(txRequestHashes.status, ["mined", "replaced"])),
          );
        await tx
          .update(txRequests)
          .set({ status: "sent", blockNumber: null, blockHash: null })
          .where(inArray(txRequests.id, ids));
        return rows.map(
          (row): TxStatusEvent => ({ requestId: row.id, status: "sent", txHash: row.txHash, errorCode: row.errorCode }),
        );
      }, ROW_LOCKS_ONLY);
      await publish(events);
      return events.length;
    },

    async finalizeBlock(blockHash, receipts) {
      const now = new Date();
      const inBlock = await idsInBlock(blockHash);
      if (inBlock.length === 0) return [];
      // Which variant was mined: an original or bump confirms the request, a cancellation fails or cancels it.
      const variants = await db
        .select({ txHash: txRequestHashes.txHash, purpose: txRequestHashes.purpose })
        .from(txRequestHashes)
        .innerJoin(txRequests, eq(txRequests.txHash, txRequestHashes.txHash))
        .where(inArray(txRequests.id, inBlock));
      const purposes = new Map(variants.map((variant) => [variant.txHash, variant.purpose]));
      const { events, outcomes } = await db.transaction(async (tx) => {
        const locked = await lockInStatus(tx, inBlock, ["mined"]);
        const rows = locked
          .filter((row) => row.blockHash === blockHash)
          .map((row) => ({ ...row, purpose: purposes.get(row.txHash as Hash) }));
        type Decision = {
          row: (typeof rows)[number];
          outcome: FinalOutcome;
          errorCode: string | null;
          onChain: boolean;
        };
        const decided = rows.flatMap((row): Decision[] => {
          const receipt = row.txHash ? receipts.get(row.txHash) : undefined;
          // No receipt, or the row moved to another variant since the read above: the next pass decides.
          if (!receipt || !row.purpose) return [];
          if (receipt === "reverted") return [{ row, outcome: "failed", errorCode: "reverted", onChain: true }];
          if (row.purpose !== "cancel") return [{ row, outcome: "confirmed", errorCode: null, onChain: false }];
          // A cancellation: of a request that failed (its reason is recorded), or of one the user cancelled.
          return [{ row, outcome: row.errorCode ? "failed" : "cancelled", errorCode: row.errorCode, onChain: false }];
        });
        const groups = new Map<string, { values: Partial<typeof txRequests.$inferInsert>; ids: string[] }>();
        for (const item of decided) {
          const key = `${item.outcome}:${item.onChain}`;
          const group = groups.get(key) ?? {
            values: item.onChain
              ? { status: item.outcome, errorCode: "reverted", errorMessage: "the transaction reverted on chain" }
              : { status: item.outcome },
            ids: [],
          };
          group.ids.push(item.row.id);
          groups.set(key, group);
        }
        for (const { values, ids } of groups.values()) {
          await tx
            .update(txRequests)
            .set({ ...values, confirmedAt: now })
            .where(inArray(txRequests.id, ids));
        }
        if (decided.length > 0) {
          // The request's other broadcasts (the original after a bump, earlier bumps) can never be mined now: their
          // rows in the user's history end `failed`, not `pending` for ever.
          await tx
            .update(transactions)
            .set({ status: "failed", failureReason: "replaced" })
            .where(
              and(
                inArray(
                  transactions.txRequestId,
                  decided.map((item) => item.row.id),
                ),
                eq(transactions.status, "pending"),
                notInArray(
                  transactions.txHash,
                  decided.map((item) => item.row.txHash as Hash),
                ),
              ),
            );
        }
        return {
          events: decided.map(
            (item): TxStatusEvent => ({
              requestId: item.row.id,
              status: item.outcome,
              txHash: item.row.txHash,
              errorCode: item.errorCode,
            }),
          ),
          outcomes: decided.map((item) => ({ outcome: item.outcome, errorCode: item.errorCode })),
        };
      }, ROW_LOCKS_ONLY);
      await publish(events);
      return outcomes;
    },
  };
}
