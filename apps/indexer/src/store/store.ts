import type { DbHandle } from "@certchain/db";
import type { CacheInvalidation, CacheInvalidator } from "@certchain/queue";
import type { PoolConnection, RowDataPacket } from "mysql2/promise";
import type { Common } from "../common.ts";
import { FatalError } from "../errors.ts";
import type { RangeData } from "../sync/range-fetcher.ts";
import type { BlockHeader } from "../sync/rpc.ts";
import { applyEvents } from "./apply-events.ts";
import { type BatchRows, batchStatements, loadBatchState } from "./batch-plan.ts";
import { batchInvalidation, everything, revertInvalidation } from "./invalidation.ts";
import type { Lease } from "./lease.ts";
import { blockRefsBelow, rebuildFrom, rebuildStart, resetIndexedState } from "./rebuild.ts";
import { certificateTable, listingTable, type TableSpec, transactionTable } from "./rows.ts";
import { deleteByKeys, pipeline, selectRows, upsertRows } from "./sql.ts";

type Hash = `0x${string}`;

/** Where the indexer is: the last committed block and the last block treated as final. */
export type Cursor = { number: number; hash: Hash | null; finalized: number };

export type StoredBlock = { number: number; hash: Hash; parentHash: Hash };

export type Batch = {
  /** The cursor this batch continues from; the commit fails if the database says otherwise. */
  from: Cursor;
  /** Where the batch ends; blocks up to `to.finalized` are final and get no undo records. */
  to: Cursor;
  /** What the chain says about the blocks in between. */
  range: Pick<RangeData, "events" | "blocks" | "transactions" | "wallets">;
  /**
   * Unfinalized blocks of the batch, recorded in `indexer_blocks` with undo records for every change. Empty for a
   * backfill of final blocks: they cannot reorg, so they need neither (the backfill's big speed win).
   */
  unfinalizedBlocks: readonly BlockHeader[];
};

/** A batch of final blocks applied in memory, ready to commit. */
export type PreparedBatch = { batch: Batch; state: BatchRows };

export type Store = {
  loadCursor(): Promise<Cursor | undefined>;
  /** The unfinalized blocks applied, newest first. */
  loadUnfinalizedBlocks(): Promise<StoredBlock[]>;
  /** Applies a batch in ONE transaction: rows, undo records, `indexer_blocks`, cursor, pruning, fencing check. */
  applyBatch(batch: Batch): Promise<void>;
  /**
   * The first half of `applyBatch` for final blocks, outside any transaction: reads the rows the batch builds on and
   * applies its events in memory. `after` is the batch prepared before it, whose commit may still be in flight (its
   * rows are taken from memory), so preparing one batch overlaps writing the previous one. Commit in order.
   */
  prepareFinalBatch(batch: Batch, after?: PreparedBatch): Promise<PreparedBatch>;
  /** The second half: writes a prepared batch in ONE transaction, as `applyBatch` does. */
  commitPrepared(prepared: PreparedBatch): Promise<void>;
  /** Undoes every change above `ancestor` (one transaction) and moves the cursor back to it. */
  revertTo(ancestor: { number: number; hash: Hash }): Promise<{ undone: number }>;
  /**
   * Forgets everything indexed (chain-derived rows, relayer rows back to `pending`, cursor, blocks, undo log), so the
   * next run indexes from the deployment blocks. Recovery from a reorg deeper than the window.
   */
  reset(): Promise<void>;
  /**
   * Where re-indexing from `block` must start (at or before it, see `rebuildStart`), and the newest block refs of the
   * rows that would be kept below that start, to check against the chain. Reads only.
   */
  planRebuild(block: number): Promise<{ start: number; refsBelow: Array<{ number: number; hash: Hash }> }>;
  /**
   * Forgets what was indexed from `start` on (a start from `planRebuild`, see `rebuild.ts`) and sets the cursor to
   * `parent`, the canonical block before it, so the next run re-indexes from there.
   */
  rebuildFrom(
    start: number,
    parent: { number: number; hash: Hash },
  ): Promise<{ certificates: number; listings: number; transactions: number }>;
};

/**
 * `invalidator` (optional) tells the API's read caches what each commit changed, once it has committed.
 */
export function createStore(
  common: Pick<Common, "config" | "logger">,
  handle: DbHandle,
  lease: Lease,
  invalidator?: CacheInvalidator,
): Store {
  const chainId = common.config.chainId;
  /** After a commit, never before: a reader that reloads on the news must find the new rows. */
  const announce = async (change: () => CacheInvalidation) => {
    if (invalidator) await invalidator.invalidate(change());
  };

  /** Runs `work` in one transaction that first checks the lease's fencing token. */
  const inWriteTransaction = async <T>(work: (connection: PoolConnection) => Promise<T>): Promise<T> => {
    const connection = await handle.pool.getConnection();
    try {
      await connection.beginTransaction();
      await lease.assertHeld(connection);
      const result = await work(connection);
      await connection.commit();
      return result;
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      throw error;
    } finally {
      connection.release();
    }
  };

  const checkCursor = async (connection: PoolConnection, expected: Cursor) => {
    const [rows] = await connection.query<RowDataPacket[]>(
      "SELECT block_number, block_hash FROM indexer_cursor WHERE chain_id = ? FOR UPDATE",
      [chainId],
    );
    const row = rows[0] as { block_number: number; block_hash: Hash } | undefined;
    const matches = row
      ? Number(row.block_number) === expected.number && row.block_hash === expected.hash
      : expected.hash === null;
    // Only one writer holds the lease, so a mismatch means the in-memory cursor is wrong: never write over it.
    if (!matches)
      throw new FatalError(
        `indexer cursor moved under us: expected block ${expected.number}, found ${row?.block_number}`,
      );
  };

  const writeCursor = (connection: PoolConnection, cursor: Cursor) =>
    connection.query(
      "INSERT INTO indexer_cursor (chain_id, block_number, block_hash, finalized_block_number) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE block_number = VALUES(block_number), block_hash = VALUES(block_hash), finalized_block_number = VALUES(finalized_block_number)",
      [chainId, cursor.number, cursor.hash, cursor.finalized],
    );

  const writeBatch = async (connection: PoolConnection, batch: Batch, state: BatchRows) => {
    await pipeline(connection, batchStatements(chainId, state, batch));
    if (batch.to.finalized > batch.from.finalized) await prune(connection, batch.to.finalized);
    await writeCursor(connection, batch.to);
  };

  const prune = async (connection: PoolConnection, finalized: number) => {
    await connection.query("DELETE FROM indexer_blocks WHERE chain_id = ? AND number <= ?", [chainId, finalized]);
    await connection.query("DELETE FROM indexer_undo_log WHERE chain_id = ? AND block_number <= ?", [
      chainId,
      finalized,
    ]);
  };

  return {
    async loadCursor() {
      const [rows] = await handle.pool.query<RowDataPacket[]>(
        "SELECT block_number, block_hash, finalized_block_number FROM indexer_cursor WHERE chain_id = ?",
        [chainId],
      );
      const row = rows[0];
      if (!row) return undefined;
      return {
        number: Number(row.block_number),
        hash: row.block_hash as Hash,
        finalized: Number(row.finalized_block_number),
      };
    },

    async loadUnfinalizedBlocks() {
      const [rows] = await handle.pool.query<RowDataPacket[]>(
        "SELECT number, hash, parent_hash FROM indexer_blocks WHERE chain_id = ? ORDER BY number DESC",
        [chainId],
      );
      return rows.map((row) => ({
        number: Number(row.number),
        hash: row.hash as Hash,
        parentHash: row.parent_hash as Hash,
      }));
    },

    async applyBatch(batch) {
      const state = await inWriteTransaction(async (connection) => {
        await checkCursor(connection, batch.from);
        const state = await loadBatchState(connection, batch, { lock: true });
        applyEvents(state, batch.range, common.logger);
        await writeBatch(connection, batch, state);
        return state;
      });
      await announce(() => batchInvalidation(state));
    },

    async prepareFinalBatch(batch, after) {
      if (batch.unfinalizedBlocks.length > 0) throw new FatalError("prepareFinalBatch takes final blocks only");
      const connection = await handle.pool.getConnection();
      try {
        const state = await loadBatchState(connection, batch, { lock: false, after: after?.state });
        applyEvents(state, batch.range, common.logger);
        return { batch, state };
      } finally {
        connection.release();
      }
    },

    async commitPrepared({ batch, state }) {
      await inWriteTransaction(async (connection) => {
        await checkCursor(connection, batch.from);
        await writeBatch(connection, batch, state);
      });
      await announce(() => batchInvalidation(state));
    },

    async revertTo(ancestor) {
      const reverted = await inWriteTransaction(async (connection) => {
        const [entries] = await connection.query<RowDataPacket[]>(
          "SELECT id, table_name, operation, row_key, previous_row FROM indexer_undo_log WHERE chain_id = ? AND block_number > ? ORDER BY id ASC FOR UPDATE",
          [chainId, ancestor.number],
        );
        // The oldest entry per row holds its image before the first orphaned block: that is the state to restore.
        const oldest = new Map<string, RowDataPacket>();
        for (const entry of entries) {
          const key = `${entry.table_name}:${entry.row_key}`;
          if (!oldest.has(key)) oldest.set(key, entry);
        }
        const tables: Record<string, TableSpec<Record<string, unknown>>> = {
          certificates: certificateTable as unknown as TableSpec<Record<string, unknown>>,
          listings: listingTable as unknown as TableSpec<Record<string, unknown>>,
          transactions: transactionTable as unknown as TableSpec<Record<string, unknown>>,
        };
        for (const entry of oldest.values()) {
          const table = tables[entry.table_name as string];
          if (!table) throw new FatalError(`undo log names unknown table ${entry.table_name}`);
          const rowKey = JSON.parse(entry.row_key as string) as Record<string, unknown>;
          if (entry.operation === "insert") await deleteByKeys(connection, table, [rowKey[table.key]]);
          else await upsertRows(connection, table, [JSON.parse(entry.previous_row as string)]);
        }
        await connection.query("DELETE FROM indexer_undo_log WHERE chain_id = ? AND block_number > ?", [
          chainId,
          ancestor.number,
        ]);
        await connection.query("DELETE FROM indexer_blocks WHERE chain_id = ? AND number > ?", [
          chainId,
          ancestor.number,
        ]);
        await connection.query("UPDATE indexer_cursor SET block_number = ?, block_hash = ? WHERE chain_id = ?", [
          ancestor.number,
          ancestor.hash,
          chainId,
        ]);
        return { undone: entries.length, entries: [...oldest.values()] };
      });
      await announce(() => revertInvalidation(reverted.entries));
      return { undone: reverted.undone };
    },

    async reset() {
      await inWriteTransaction((connection) => resetIndexedState(connection, chainId));
      await announce(everything);
    },

    async planRebuild(block) {
      const connection = await handle.pool.getConnection();
      try {
        const start = await rebuildStart(connection, block);
        return { start, refsBelow: await blockRefsBelow(connection, start) };
      } finally {
        connection.release();
      }
    },

    async rebuildFrom(start, parent) {
      const forgotten = await inWriteTransaction(async (connection) => {
        // The lease holder is the only writer: the plan cannot have changed, unless the caller skipped it.
        if ((await rebuildStart(connection, start)) !== start)
          throw new FatalError(`block ${start} is not a start planned by planRebuild`);
        return rebuildFrom(connection, chainId, start, parent);
      });
      await announce(everything);
      return forgotten;
    },
  };
}

/** Every chain-derived row, for tests and tools that compare two databases. */
export async function readIndexedRows(handle: DbHandle) {
  const connection = await handle.pool.getConnection();
  try {
    const read = <Row>(table: TableSpec<Row>) => selectRows(connection, table, `1 ORDER BY \`${table.key}\``, []);
    return {
      certificates: await read(certificateTable),
      listings: await read(listingTable),
      transactions: await read(transactionTable),
    };
  } finally {
    connection.release();
  }
}
