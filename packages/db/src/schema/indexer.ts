import { datetime, index, mysqlEnum, mysqlTable, primaryKey } from "drizzle-orm/mysql-core";
import {
  asciiString,
  blockNumber,
  chainId,
  hash,
  hashCheck,
  jsonDocument,
  rowId,
  unsignedCounter,
  updatedAt,
} from "./columns.ts";

/*
 * The indexer's own state (research/indexers.md §6). Invariant: every batch of chain-derived writes, the undo records
 * for them, the `indexer_blocks` rows of their blocks and the cursor move commit in ONE MySQL transaction, so a crash
 * at any instant leaves either all or none of a batch.
 */

/**
 * Where the indexer is, per chain. `block_number` / `block_hash` is the last block whose effects are committed (the
 * tip of `indexer_blocks`); blocks at or below `finalized_block_number` are final (head − FINALITY_DEPTH when they were
 * indexed) and have no undo records left.
 */
export const indexerCursor = mysqlTable(
  "indexer_cursor",
  {
    chainId: chainId("chain_id").primaryKey(),
    blockNumber: blockNumber("block_number").notNull(),
    blockHash: hash("block_hash").notNull(),
    finalizedBlockNumber: blockNumber("finalized_block_number").notNull(),
    updatedAt: updatedAt().notNull(),
  },
  (t) => [hashCheck("indexer_cursor", t.blockHash)],
);

/**
 * The unfinalized blocks the indexer has applied, linked by `parent_hash`, so a restart still recognises a reorg: a new
 * block whose parent is not our row at `number - 1` means the chain changed under us. Rows at or below the finalized
 * block are pruned.
 */
export const indexerBlocks = mysqlTable(
  "indexer_blocks",
  {
    chainId: chainId("chain_id").notNull(),
    number: blockNumber("number").notNull(),
    hash: hash("hash").notNull(),
    parentHash: hash("parent_hash").notNull(),
    /** The block's timestamp exactly as the chain gives it: unix seconds. */
    timestamp: unsignedCounter("timestamp").notNull(),
  },
  (t) => [
    primaryKey({ name: "indexer_blocks_pk", columns: [t.chainId, t.number] }),
    hashCheck("indexer_blocks", t.hash),
    hashCheck("indexer_blocks", t.parentHash),
  ],
);

export const undoOperations = ["insert", "update", "delete"] as const;
export type UndoOperation = (typeof undoOperations)[number];

/**
 * The operation log that makes reorgs reversible: for each row the indexer inserts, updates or deletes in an
 * unfinalized block, what the row was before. Undoing blocks above a common ancestor walks the entries with
 * `block_number > ancestor` in descending `id` order: `insert` → delete the row at `row_key`; `update` / `delete` →
 * write `previous_row` back. (Triggers would do this in PostgreSQL; drizzle does not generate MySQL triggers, and
 * writing the log from the same code path keeps it in the same transaction.) Entries at or below the finalized block
 * are deleted.
 */
export const indexerUndoLog = mysqlTable(
  "indexer_undo_log",
  {
    id: rowId("id").primaryKey().autoincrement(),
    chainId: chainId("chain_id").notNull(),
    blockNumber: blockNumber("block_number").notNull(),
    /** The table changed, e.g. `certificates`. */
    tableName: asciiString("table_name", { length: 64 }).notNull(),
    operation: mysqlEnum("operation", undoOperations).notNull(),
    /** The changed row's primary key by column name, e.g. `{ "id": 42 }`. */
    rowKey: jsonDocument<Record<string, unknown>>("row_key").notNull(),
    /**
     * The whole row before the change, by column name (NULL for `insert`). Written with JSON.stringify, so
     * `bigint`s come back as decimal strings and `Date`s as ISO strings: convert them when restoring.
     */
    previousRow: jsonDocument<Record<string, unknown>>("previous_row"),
  },
  (t) => [index("indexer_undo_log_chain_id_block_number_idx").on(t.chainId, t.blockNumber)],
);

/**
 * Single-writer lease: the indexer instance that holds row `name` (e.g. `indexer:31337`) is the only one writing; the
 * others wait as standbys and take over once `expires_at` has passed without a heartbeat. `fencing_token` increases on
 * every acquisition; the holder checks it (`SELECT … FOR UPDATE`) inside each write transaction, so an instance that
 * lost the lease while paused cannot commit afterwards. Compare times with the database clock (`NOW(3)`), so
 * processes with skewed clocks agree.
 */
export const indexerLock = mysqlTable("indexer_lock", {
  name: asciiString("name", { length: 64 }).primaryKey(),
  /** The holder, e.g. `<hostname>:<pid>:<random>`. */
  ownerId: asciiString("owner_id", { length: 128 }).notNull(),
  fencingToken: unsignedCounter("fencing_token").notNull(),
  acquiredAt: datetime("acquired_at", { fsp: 3 }).notNull(),
  heartbeatAt: datetime("heartbeat_at", { fsp: 3 }).notNull(),
  expiresAt: datetime("expires_at", { fsp: 3 }).notNull(),
});
