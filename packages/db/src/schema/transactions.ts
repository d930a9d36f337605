import { bigint, datetime, foreignKey, index, mysqlEnum, mysqlTable, unique, varchar } from "drizzle-orm/mysql-core";
import {
  address,
  addressCheck,
  asciiChar,
  blockNumber,
  createdAt,
  hash,
  hashCheck,
  logIndex,
  nonNegativeCheck,
  rowId,
  updatedAt,
  wei,
} from "./columns.ts";
import { txRequests } from "./tx-requests.ts";

export const transactionStatuses = ["pending", "completed", "failed"] as const;
export type TransactionStatus = (typeof transactionStatuses)[number];

/**
 * What a transaction did, from the platform's point of view. The seed's list, plus `approve` (the ERC-721 / ERC-20
 * approvals that listing and buying with a token need) and `other` (calls to our contracts with no entry here, such
 * as fee or allow-list changes, and the relayer's zero-value nonce fillers), so the indexer never has to drop a
 * transaction that touched the platform.
 */
export const transactionKinds = [
  "issue",
  "revoke",
  "transfer",
  "list",
  "cancel",
  "buy",
  "withdraw",
  "eth_transfer",
  "token_transfer",
  "role",
  "approve",
  "other",
] as const;
export type TransactionKind = (typeof transactionKinds)[number];

/** The currency address that means native ETH (as in the Marketplace contract). */
export const ETH_CURRENCY_ADDRESS = "0x0000000000000000000000000000000000000000" as const;

/**
 * One row per on-chain transaction that touches the platform (calls our contracts, or moves ETH or payment tokens to
 * or from a platform wallet), and per transaction the relayer broadcast. The first eight columns are the seed's
 * `transactions` table exactly.
 *
 * Writers: the relayer inserts a `pending` row (with `tx_request_id`) for each hash it broadcasts; the indexer
 * inserts rows for everything else it sees, and moves rows to `completed` / `failed` with their block refs (and back to
 * `pending`, block refs NULL, when a reorg removes the block). A replaced broadcast ends `failed`.
 *
 * "A user's transactions, newest first" is two index range scans, `from_address = ?` and `to_address = ?`, each in
 * `id` order (UNION ALL, then order and limit); a user's addresses are `users.wallet_address` and
 * `users.external_address`.
 */
export const transactions = mysqlTable(
  "transactions",
  {
    id: rowId("id").primaryKey().autoincrement(),
    txHash: hash("tx_hash").notNull(),
    /**
     * Who the certificate or the value moved from and to, so each side finds the row in its history: for a plain ETH
     * transfer the transaction's sender and recipient; for a payment-token transfer (`token_transfer`) the token's
     * sender and recipient from its `Transfer` event, not the transaction's `to` (the token contract); for an `issue`
     * the issuer and the recipient, a `buy` the buyer and the seller, a `transfer` the certificate's old and new owner,
     * a `revoke` the revoker (issuer or admin) and the holder it was revoked from. For any other call to one of our
     * contracts (list, cancel, withdraw, approve, role), the sender and the contract.
     */
    fromAddress: address("from_address").notNull(),
    toAddress: address("to_address").notNull(),
    /**
     * The value moved, in wei or token base units (see `currency_address`): DECIMAL(65,0) as the seed says. A uint256
     * above `DECIMAL65_MAX` (65 digits; only a foreign token with an absurd supply gets there) is stored as NULL by the
     * indexer, which logs it, rather than failing the block.
     */
    amount: wei("amount"),
    /** The certificate involved, if any. */
    tokenId: bigint("token_id", { mode: "number" }),
    status: mysqlEnum("status", transactionStatuses).notNull(),
    createdAt: createdAt(),

    kind: mysqlEnum("kind", transactionKinds).notNull(),
    /** What `amount` is counted in: `ETH_CURRENCY_ADDRESS` for ETH, else the ERC-20's address; NULL with no amount. */
    currencyAddress: address("currency_address"),
    /** Block refs: NULL while `pending`. `log_index` is the first platform log of the transaction (NULL if none). */
    blockNumber: blockNumber("block_number"),
    blockHash: hash("block_hash"),
    logIndex: logIndex("log_index"),
    /** The block's timestamp (UTC): when it happened on chain, unlike `created_at` (when the row was written). */
    blockTimestamp: datetime("block_timestamp"),
    /** The relayer request that broadcast it; NULL for transactions sent by anyone else. */
    txRequestId: asciiChar("tx_request_id", { length: 36 }),
    /** Short machine-readable failure reason (`reverted`, `dropped`, `replaced`, a decoded custom error name). */
    failureReason: varchar("failure_reason", { length: 100 }),
    updatedAt: updatedAt().notNull(),
  },
  (t) => [
    unique("transactions_tx_hash_uq").on(t.txHash),
    index("transactions_from_address_id_idx").on(t.fromAddress, t.id),
    index("transactions_to_address_id_idx").on(t.toAddress, t.id),
    // Reorg handling and `--rebuild-from <block>`.
    index("transactions_block_number_idx").on(t.blockNumber),
    index("transactions_tx_request_id_idx").on(t.txRequestId),
    foreignKey({
      name: "transactions_tx_request_id_fk",
      columns: [t.txRequestId],
      foreignColumns: [txRequests.id],
    }).onDelete("set null"),
    hashCheck("transactions", t.txHash),
    addressCheck("transactions", t.fromAddress),
    addressCheck("transactions", t.toAddress),
    addressCheck("transactions", t.currencyAddress),
    hashCheck("transactions", t.blockHash),
    nonNegativeCheck("transactions", t.amount),
  ],
);
