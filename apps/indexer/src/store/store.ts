import type { DbHandle } from "@certchain/db";
import type { PoolConnection, RowDataPacket } from "mysql2/promise";
import type { Common } from "../common.ts";
import type { ChainEvent } from "../decode/events.ts";
import { FatalError } from "../errors.ts";
import type { ChainBlock } from "../sync/rpc.ts";
import { applyEvents } from "./apply-events.ts";
import type { Lease } from "./lease.ts";
import { createRowTracker } from "./row-tracker.ts";
import {
  type CertificateRow,
  certificateTable,
  type ListingRow,
  listingTable,
  type TableSpec,
  type TransactionRow,
  transactionTable,
} from "./rows.ts";
import { deleteByKeys, insertUndoRecords, selectByKeys, selectRows, upsertRows } from "./sql.ts";

type Hash = `0x${string}`;

/** Where the indexer is: the last committed block and the last block treated as final. */
export type Cursor = { number: number; hash: Hash | null; finalized: number };

export type StoredBlock = { number: number; hash: Hash; parentHash: Hash };

export type Batch = {
  /** The cursor this batch continues from; the commit fails if the database says otherwise. */
  from: Cursor;
  to: Cursor;
  events: readonly ChainEvent[];
  /** Blocks the events (and `to`) need, by number. */
  blocks: ReadonlyMap<number, ChainBlock>;
  /**
   * Unfinalized blocks of the batch, recorded in `indexer_blocks` with undo records for every change. Empty for a
   * backfill of final blocks: they cannot reorg, so they need neither (the backfill's big speed win).
   */
  unfinalizedBlocks: readonly ChainBlock[];
};

export type Store = {
  loadCursor(): Promise<Cursor | undefined>;
  /** The unfinalized blocks applied, newest first. */
  loadUnfinalizedBlocks(): Promise<StoredBlock[]>;
  /** Applies a batch in ONE transaction: rows, undo records, `indexer_blocks`, cursor, pruning, fencing check. */
  applyBatch(batch: Batch): Promise<void>;
  /** Undoes every change above `ancestor` (one transaction) and moves the cursor back to it. */
  revertTo(ancestor: { number: number; hash: Hash }): Promise<{ undone: number }>;
  /**
   * Forgets everything indexed (chain-derived rows, relayer rows back to `pending`, cursor, blocks, undo log), so the
   * next run indexes from the deployment blocks. Recovery from a reorg deeper than the window.
   */
  reset(): Promise<void>;
};

export function createStore(common: Pick<Common, "config" | "logger">, handle: DbHandle, lease: Lease): Store {
  const chainId = common.config.chainId;

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

    applyBatch: (batch) =>
      inWriteTransaction(async (connection) => {
        await checkCursor(connection, batch.from);
        const recordUndo = batch.unfinalizedBlocks.length > 0;
        const tokenIds: number[] = [];
        const listingIds: number[] = [];
        const txHashes: string[] = [];
        for (const event of batch.events) {
          txHashes.push(event.log.txHash);
          if ("tokenId" in event && event.tokenId !== null) tokenIds.push(event.tokenId);
          if ("listingId" in event) listingIds.push(event.listingId);
        }
        // A transfer or revocation must find the token's active listing even when the batch never names it.
        const activeListings = await selectByKeys(
          connection,
          listingTable,
          "token_id",
          tokenIds,
          " AND status = 'active'",
        );
        const namedListings = await selectByKeys(connection, listingTable, "listing_id", listingIds);
        const listingRows = new Map<number, ListingRow>();
        for (const row of [...activeListings, ...namedListings]) listingRows.set(row.listing_id, row);
        const state = {
          certificates: createRowTracker<CertificateRow>(
            certificateTable,
            await selectByKeys(connection, certificateTable, "token_id", tokenIds),
            recordUndo,
          ),
          listings: createRowTracker<ListingRow>(listingTable, [...listingRows.values()], recordUndo),
          transactions: createRowTracker<TransactionRow>(
            transactionTable,
            await selectByKeys(connection, transactionTable, "tx_hash", txHashes),
            recordUndo,
          ),
          activeListingOfToken: new Map(activeListings.map((row) => [row.token_id, row.listing_id])),
        };
        applyEvents(state, batch.events, batch.blocks, common.logger);

        await upsertRows(connection, certificateTable, state.certificates.changedRows());
        await upsertRows(connection, listingTable, state.listings.changedRows());
        await upsertRows(connection, transactionTable, state.transactions.changedRows());
        await insertUndoRecords(connection, chainId, [
          ...state.certificates.undo,
          ...state.listings.undo,
          ...state.transactions.undo,
        ]);
        if (batch.unfinalizedBlocks.length > 0) {
          await connection.query(
            "INSERT INTO indexer_blocks (chain_id, number, hash, parent_hash, timestamp) VALUES ? ON DUPLICATE KEY UPDATE hash = VALUES(hash), parent_hash = VALUES(parent_hash), timestamp = VALUES(timestamp)",
            [batch.unfinalizedBlocks.map((b) => [chainId, b.number, b.hash, b.parentHash, b.timestamp])],
          );
        }
        if (batch.to.finalized > batch.from.finalized) await prune(connection, batch.to.finalized);
        await writeCursor(connection, batch.to);
      }),

    revertTo: (ancestor) =>
      inWriteTransaction(async (connection) => {
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
        return { undone: entries.length };
      }),

    reset: () =>
      inWriteTransaction(async (connection) => {
        await connection.query("DELETE FROM certificates");
        await connection.query("DELETE FROM listings");
        await connection.query("DELETE FROM transactions WHERE tx_request_id IS NULL");
        await connection.query(
          "UPDATE transactions SET status = 'pending', block_number = NULL, block_hash = NULL, log_index = NULL, block_timestamp = NULL WHERE tx_request_id IS NOT NULL",
        );
        await connection.query("DELETE FROM indexer_undo_log WHERE chain_id = ?", [chainId]);
        await connection.query("DELETE FROM indexer_blocks WHERE chain_id = ?", [chainId]);
        await connection.query("DELETE FROM indexer_cursor WHERE chain_id = ?", [chainId]);
      }),
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
