import { createLogger, loadConfig } from "@certchain/common";
import { describe, expect, test } from "vitest";
import { applyTransactions } from "../src/store/apply-transactions.ts";
import { createRowTracker } from "../src/store/row-tracker.ts";
import { type ListingRow, listingTable, type TransactionRow, transactionTable } from "../src/store/rows.ts";
import type { ChainTransaction } from "../src/sync/rpc.ts";

/**
 * The batches of the indexer overlap in time: while one is written, the next is fetched, and reads the relayer's
 * `pending` hashes as they were before the first commits. A later batch can so meet the receipt of a transaction an
 * earlier batch already applied with its logs; these tests apply exactly that to the rows the earlier batch left.
 */
const hash = `0x${"ab".repeat(32)}` as const;
const blockHash = `0x${"cd".repeat(32)}` as const;
const issuer = "0x00000000000000000000000000000000000000a1" as const;
const recipient = "0x00000000000000000000000000000000000000b2" as const;
const registry = "0x00000000000000000000000000000000000000c3" as const;
const logger = createLogger(loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent" }), "test");

/** The row as the batch that read its logs wrote it: from the issuer to the recipient, completed. */
const issuedRow: TransactionRow = {
  tx_hash: hash,
  from_address: issuer,
  to_address: recipient,
  amount: null,
  token_id: 7,
  status: "completed",
  kind: "issue",
  currency_address: null,
  block_number: 40,
  block_hash: blockHash,
  log_index: 1,
  block_timestamp: "2026-12-07 09:00:00",
  tx_request_id: "5d0c8c2e-6c1f-4d2a-9a57-3f0b2f6f1a02",
  failure_reason: null,
};
const receipt = (overrides: Partial<ChainTransaction> = {}): ChainTransaction => ({
  hash,
  blockNumber: 40,
  blockHash,
  from: issuer,
  to: registry,
  status: "success",
  value: null,
  ...overrides,
});

function applyReceipt(row: TransactionRow, mined: ChainTransaction) {
  const state = {
    transactions: createRowTracker(transactionTable, [row], 30),
    listings: createRowTracker<ListingRow>(listingTable, [], 30),
  };
  applyTransactions(
    state,
    { events: [], transactions: new Map([[hash, mined]]), wallets: new Set() },
    { blockTime: () => "2026-12-07 09:00:01", holderAtRevocation: () => undefined },
    logger,
  );
  return state.transactions;
}

describe("a relayer transaction met again by a later batch", () => {
  test("behavior: its row, already applied in that block with its logs, keeps its parties and undo log", () => {
    const rows = applyReceipt(issuedRow, receipt());
    expect(rows.get(hash)).toEqual(issuedRow);
    expect(rows.changedRows()).toEqual([]);
    expect(rows.undo).toEqual([]);
  });

  test("behavior: a row still pending is completed from the receipt, with what the relayer said it does", () => {
    const pending: TransactionRow = {
      ...issuedRow,
      to_address: registry,
      status: "pending",
      block_number: null,
      block_hash: null,
      log_index: null,
      block_timestamp: null,
    };
    expect(applyReceipt(pending, receipt({ status: "reverted" })).get(hash)).toMatchObject({
      status: "failed",
      failure_reason: "reverted",
      kind: "issue",
      from_address: issuer,
      to_address: registry,
      block_hash: blockHash,
    });
  });

  test("behavior: a row recorded in a block a reorg replaced takes the new block's receipt", () => {
    const moved = `0x${"ef".repeat(32)}` as const;
    expect(applyReceipt(issuedRow, receipt({ blockNumber: 41, blockHash: moved })).get(hash)).toMatchObject({
      block_number: 41,
      block_hash: moved,
    });
  });
});
