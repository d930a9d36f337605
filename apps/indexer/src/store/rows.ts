import type { CertificateStatus, ListingStatus, TransactionKind, TransactionStatus } from "@certchain/db";

/*
 * Rows of the chain-derived tables as the store reads and writes them: keyed by column name, with database-native,
 * JSON-safe values (DECIMALs as decimal strings, DATETIMEs as 'YYYY-MM-DD HH:MM:SS' UTC strings), so a row read
 * back, a row written and a row image in the undo log are the same object shape. `id`, `created_at` and
 * `updated_at` are left to the database: they are bookkeeping, not chain state.
 */

type Address = `0x${string}`;
type Hash = `0x${string}`;
/** DATETIME in UTC, as MySQL spells it. */
export type DbDateTime = string;
/** DECIMAL(65,0) as a decimal string. */
export type DbDecimal = string;

export type CertificateRow = {
  token_id: number;
  owner_address: Address;
  ipfs_hash: string;
  status: CertificateStatus;
  issuer_address: Address;
  issued_at: DbDateTime;
  expires_at: DbDateTime | null;
  revoked_at: DbDateTime | null;
  revoked_by_address: Address | null;
  revocation_reason: string | null;
  issue_tx_hash: Hash;
  issued_block_number: number;
  block_number: number;
  block_hash: Hash;
  log_index: number;
};

export type ListingRow = {
  listing_id: number;
  token_id: number;
  seller_address: Address;
  currency_address: Address;
  price: DbDecimal;
  status: ListingStatus;
  buyer_address: Address | null;
  fee: DbDecimal | null;
  listed_at: DbDateTime;
  closed_at: DbDateTime | null;
  created_tx_hash: Hash;
  created_block_number: number;
  created_block_hash: Hash;
  created_log_index: number;
  block_number: number;
  block_hash: Hash;
  log_index: number;
};

export type TransactionRow = {
  tx_hash: Hash;
  from_address: Address;
  to_address: Address;
  amount: DbDecimal | null;
  token_id: number | null;
  status: TransactionStatus;
  kind: TransactionKind;
  currency_address: Address | null;
  block_number: number | null;
  block_hash: Hash | null;
  log_index: number | null;
  block_timestamp: DbDateTime | null;
  tx_request_id: string | null;
  failure_reason: string | null;
};

/** A chain-derived table: its name, the natural key the undo log and upserts use, and the columns the store owns. */
export type TableSpec<Row> = {
  name: "certificates" | "listings" | "transactions";
  /**
   * The unique chain key (token id, listing id, transaction hash), not the auto-increment `id`: it is known before the
   * insert, identical on every replay, and it is what the undo log records as `row_key`.
   */
  key: keyof Row & string;
  columns: ReadonlyArray<keyof Row & string>;
  /**
   * Columns an upsert never clears: a NULL written over a value keeps the value. `tx_request_id` links a relayer's row
   * to its request; the indexer writes a mined transaction's row without reading it first when nothing can undo the
   * write (final blocks), and must not unlink it then.
   */
  keepWhenNull?: ReadonlyArray<keyof Row & string>;
};

export const certificateTable: TableSpec<CertificateRow> = {
  name: "certificates",
  key: "token_id",
  columns: [
    "token_id",
    "owner_address",
    "ipfs_hash",
    "status",
    "issuer_address",
    "issued_at",
    "expires_at",
    "revoked_at",
    "revoked_by_address",
    "revocation_reason",
    "issue_tx_hash",
    "issued_block_number",
    "block_number",
    "block_hash",
    "log_index",
  ],
};

export const listingTable: TableSpec<ListingRow> = {
  name: "listings",
  key: "listing_id",
  columns: [
    "listing_id",
    "token_id",
    "seller_address",
    "currency_address",
    "price",
    "status",
    "buyer_address",
    "fee",
    "listed_at",
    "closed_at",
    "created_tx_hash",
    "created_block_number",
    "created_block_hash",
    "created_log_index",
    "block_number",
    "block_hash",
    "log_index",
  ],
};

export const transactionTable: TableSpec<TransactionRow> = {
  name: "transactions",
  key: "tx_hash",
  columns: [
    "tx_hash",
    "from_address",
    "to_address",
    "amount",
    "token_id",
    "status",
    "kind",
    "currency_address",
    "block_number",
    "block_hash",
    "log_index",
    "block_timestamp",
    "tx_request_id",
    "failure_reason",
  ],
  keepWhenNull: ["tx_request_id"],
};

/** The latest instant DATETIME holds; a uint64 expiry beyond it (the year 9999) is stored as this. */
const DATETIME_MAX_SECONDS = 253_402_300_799n;

/** Unix seconds → MySQL DATETIME in UTC. */
export function toDbDateTime(unixSeconds: number | bigint): DbDateTime {
  const clamped = BigInt(unixSeconds) > DATETIME_MAX_SECONDS ? DATETIME_MAX_SECONDS : BigInt(unixSeconds);
  return new Date(Number(clamped) * 1000).toISOString().slice(0, 19).replace("T", " ");
}
