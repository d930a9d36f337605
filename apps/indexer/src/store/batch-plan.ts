import { ETH_CURRENCY_ADDRESS } from "@certchain/db";
import type { PoolConnection } from "mysql2/promise";
import type { BatchState } from "./apply-events.ts";
import { createRowTracker, type RowTracker } from "./row-tracker.ts";
import {
  type CertificateRow,
  certificateTable,
  type ListingRow,
  listingTable,
  type TableSpec,
  type TransactionRow,
  transactionTable,
} from "./rows.ts";
import { type Statement, selectByKeys, undoStatements, upsertStatements } from "./sql.ts";
import type { Batch } from "./store.ts";

/*
 * What one batch reads before applying its events, and what it writes after.
 */

/** The rows a batch holds in memory once its events are applied. */
export type BatchRows = Pick<BatchState, "certificates" | "listings" | "transactions">;

/**
 * Reads the rows a batch's events build on (see `rowKeys`) into trackers. `lock` reads the `transactions` rows
 * `FOR UPDATE` (inside the write transaction: the relayer writes them too). `after` is the batch before this one when
 * its commit may still be in flight: the rows it holds are taken from its memory, since the database may not show
 * them yet; every other row it did not touch, so the database has it right.
 */
export async function loadBatchState(
  connection: PoolConnection,
  batch: Batch,
  options: { lock: boolean; after?: BatchRows },
): Promise<BatchState> {
  const { after } = options;
  const finalized = batch.to.finalized;
  const keys = rowKeys(batch.range, batch.unfinalizedBlocks.length > 0);
  const read = async <Row extends Record<string, unknown>>(
    table: TableSpec<Row>,
    wanted: readonly unknown[],
    held: RowTracker<Row> | undefined,
    lock = false,
  ): Promise<Row[]> => {
    const rows: Row[] = [];
    const missing: unknown[] = [];
    for (const key of wanted) {
      const row = held?.get(key as Row[keyof Row]);
      if (row) rows.push(row);
      else missing.push(key);
    }
    rows.push(...(await selectByKeys(connection, table, table.key, missing, { lock })));
    return rows;
  };

  // A transfer or revocation must find the token's active listing even when the batch never names it.
  let activeListings = await selectByKeys(connection, listingTable, "token_id", keys.activeListingTokens, {
    extraCondition: " AND status = 'active'",
  });
  if (after) {
    // The previous batch's version of a listing it holds decides whether that listing is active.
    const tokens = new Set(keys.activeListingTokens);
    activeListings = activeListings.filter((row) => !after.listings.get(row.listing_id));
    for (const row of after.listings.rows())
      if (row.status === "active" && tokens.has(row.token_id)) activeListings.push(row);
  }
  const listingRows = new Map<number, ListingRow>();
  for (const row of [...activeListings, ...(await read(listingTable, keys.listings, after?.listings))])
    listingRows.set(row.listing_id, row);
  return {
    certificates: createRowTracker<CertificateRow>(
      certificateTable,
      await read(certificateTable, keys.certificates, after?.certificates),
      finalized,
    ),
    listings: createRowTracker<ListingRow>(listingTable, [...listingRows.values()], finalized),
    transactions: createRowTracker<TransactionRow>(
      transactionTable,
      await read(transactionTable, keys.transactions, after?.transactions, options.lock),
      finalized,
    ),
    activeListingOfToken: new Map(activeListings.map((row) => [row.token_id, row.listing_id])),
  };
}

/** A batch's writes, in order: rows, undo records, `indexer_blocks`. */
export function* batchStatements(chainId: number, state: BatchRows, batch: Batch): Generator<Statement> {
  yield* upsertStatements(certificateTable, state.certificates.changedRows());
  yield* upsertStatements(listingTable, state.listings.changedRows());
  yield* upsertStatements(transactionTable, state.transactions.changedRows());
  yield* undoStatements(chainId, [...state.certificates.undo, ...state.listings.undo, ...state.transactions.undo]);
  if (batch.unfinalizedBlocks.length > 0) {
    yield [
      "INSERT INTO indexer_blocks (chain_id, number, hash, parent_hash, timestamp) VALUES ? ON DUPLICATE KEY UPDATE hash = VALUES(hash), parent_hash = VALUES(parent_hash), timestamp = VALUES(timestamp)",
      [batch.unfinalizedBlocks.map((b) => [chainId, b.number, b.hash, b.parentHash, b.timestamp])],
    ];
  }
}

/**
 * The keys of the rows a batch must read before applying its events. With undo records to write, every row it
 * changes (their images before the batch). Without (final blocks), only rows whose current state the events build
 * on: a row an event creates outright (an issue, a listing) is not read, and a mined transaction's row is written
 * whole, except the rows waiting for a transaction without platform logs, which keep what the relayer wrote.
 */
function rowKeys(range: Batch["range"], recordsUndo: boolean) {
  const createdHere = { certificates: new Set<number>(), listings: new Set<number>() };
  const certificates = new Set<number>();
  const listings = new Set<number>();
  const activeListingTokens = new Set<number>();
  for (const event of range.events) {
    switch (event.type) {
      case "certificateIssued":
        if (!certificates.has(event.tokenId)) createdHere.certificates.add(event.tokenId);
        certificates.add(event.tokenId);
        break;
      case "certificateTransferred":
      case "certificateRevoked":
        // A mint's Transfer precedes its CertificateIssued and changes nothing.
        if (event.type === "certificateTransferred" && event.from === ETH_CURRENCY_ADDRESS) break;
        certificates.add(event.tokenId);
        activeListingTokens.add(event.tokenId);
        break;
      case "listed":
        if (!listings.has(event.listingId)) createdHere.listings.add(event.listingId);
        listings.add(event.listingId);
        break;
      case "listingCancelled":
      case "sold":
        listings.add(event.listingId);
        break;
      default:
        break;
    }
  }
  const eventHashes = new Set(range.events.map((event) => event.log.txHash));
  const transactions = [...range.transactions.keys()].filter((hash) => recordsUndo || !eventHashes.has(hash));
  const unlessCreated = <K>(keys: Set<K>, created: Set<K>) =>
    recordsUndo ? [...keys] : [...keys].filter((key) => !created.has(key));
  return {
    certificates: unlessCreated(certificates, createdHere.certificates),
    listings: unlessCreated(listings, createdHere.listings),
    activeListingTokens: [...activeListingTokens],
    transactions,
  };
}
