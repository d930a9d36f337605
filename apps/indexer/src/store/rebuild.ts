import type { PoolConnection, RowDataPacket } from "mysql2/promise";

type Hash = `0x${string}`;

/** How many of the newest distinct blocks below the rebuild point `rebuildFrom` checks against the node. */
const CHECKED_BLOCKS_BELOW = 1_000;

/*
 * Recovery from a reorg deeper than the window (the indexer's own reorg handling covers the window). Both run inside
 * the store's write transaction, after the lease check.
 */

/** Relayer rows the indexer had seen mined go back to `pending`; the relayer's own (never mined) rows stay as they are. */
const UNMINE_RELAYER_ROWS =
  "UPDATE transactions SET status = 'pending', block_number = NULL, block_hash = NULL, log_index = NULL, block_timestamp = NULL, failure_reason = NULL WHERE tx_request_id IS NOT NULL AND block_number >= ?";

/** Forgets everything indexed: chain-derived rows, relayer rows back to `pending`, cursor, blocks, undo log. */
export async function resetIndexedState(connection: PoolConnection, chainId: number): Promise<void> {
  await connection.query("DELETE FROM certificates");
  await connection.query("DELETE FROM listings");
  await connection.query("DELETE FROM transactions WHERE tx_request_id IS NULL");
  await connection.query(UNMINE_RELAYER_ROWS, [0]);
  await forgetBlocks(connection, chainId);
  await connection.query("DELETE FROM indexer_cursor WHERE chain_id = ?", [chainId]);
}

async function forgetBlocks(connection: PoolConnection, chainId: number): Promise<void> {
  await connection.query("DELETE FROM indexer_undo_log WHERE chain_id = ?", [chainId]);
  await connection.query("DELETE FROM indexer_blocks WHERE chain_id = ?", [chainId]);
}

/**
 * Where re-indexing must start so that every row changed at or after `block` is rebuilt from scratch: rows keep only
 * their latest state, so a certificate or listing changed at or after the start is deleted and re-created from the
 * block that created it, which moves the start back to that block, and so on until no row changed at or after the
 * start was created before it. What is left in the tables is then exactly their state at the block before the start.
 */
export async function rebuildStart(connection: PoolConnection, block: number): Promise<number> {
  let start = block;
  for (;;) {
    const [rows] = await connection.query<RowDataPacket[]>(
      "SELECT LEAST(COALESCE((SELECT MIN(issued_block_number) FROM certificates WHERE block_number >= ?), ?), COALESCE((SELECT MIN(created_block_number) FROM listings WHERE block_number >= ?), ?)) AS earliest",
      [start, start, start, start],
    );
    const earliest = Number(rows[0]?.earliest ?? start);
    if (earliest >= start) return start;
    start = earliest;
  }
}

/**
 * The newest distinct blocks (number, hash) that rows below `start` point at, newest first: `rebuildFrom` checks them
 * against the node, since a row from an orphaned block below the start would survive the rebuild.
 */
export async function blockRefsBelow(
  connection: PoolConnection,
  start: number,
): Promise<Array<{ number: number; hash: Hash }>> {
  const refs = new Map<string, { number: number; hash: Hash }>();
  for (const table of ["transactions", "certificates", "listings"]) {
    const [rows] = await connection.query<RowDataPacket[]>(
      `SELECT DISTINCT block_number, block_hash FROM \`${table}\` WHERE block_number < ? ORDER BY block_number DESC LIMIT ?`,
      [start, CHECKED_BLOCKS_BELOW],
    );
    for (const row of rows) {
      const ref = { number: Number(row.block_number), hash: row.block_hash as Hash };
      refs.set(`${ref.number}:${ref.hash}`, ref);
    }
  }
  return [...refs.values()].sort((a, b) => b.number - a.number).slice(0, CHECKED_BLOCKS_BELOW);
}

/**
 * Deletes every row changed at or after `start` (a start from `rebuildStart`), sends the relayer's rows mined there
 * back to `pending`, forgets the unfinalized blocks and undo log, and sets the cursor to `parent` (the canonical
 * block before `start`), final: the next run re-indexes from `start` as a backfill would.
 */
export async function rebuildFrom(
  connection: PoolConnection,
  chainId: number,
  start: number,
  parent: { number: number; hash: Hash },
): Promise<{ certificates: number; listings: number; transactions: number }> {
  const affected = async (sql: string, values: unknown[]) =>
    ((await connection.query(sql, values))[0] as { affectedRows: number }).affectedRows;
  const certificates = await affected("DELETE FROM certificates WHERE block_number >= ?", [start]);
  const listings = await affected("DELETE FROM listings WHERE block_number >= ?", [start]);
  const transactions =
    (await affected("DELETE FROM transactions WHERE tx_request_id IS NULL AND block_number >= ?", [start])) +
    (await affected(UNMINE_RELAYER_ROWS, [start]));
  await forgetBlocks(connection, chainId);
  await connection.query(
    "INSERT INTO indexer_cursor (chain_id, block_number, block_hash, finalized_block_number) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE block_number = VALUES(block_number), block_hash = VALUES(block_hash), finalized_block_number = VALUES(finalized_block_number)",
    [chainId, parent.number, parent.hash, parent.number],
  );
  return { certificates, listings, transactions };
}
