import { type SQL, sql } from "drizzle-orm";
import { bigint, check, customType, decimal, int, type MySqlColumn, timestamp } from "drizzle-orm/mysql-core";

/**
 * Column types shared by every table, so one decision is made once.
 *
 * Conventions (ARCHITECTURE.md and this package's README):
 * - Hex values (addresses, hashes, raw transactions) are stored lowercase with their `0x` prefix in ASCII columns with
 *   a binary collation: comparisons are exact and cheap, and a CHECK constraint rejects any other spelling, so an
 *   upper-case or checksummed address can never slip in and silently miss a lookup.
 * - Amounts in wei / token units are DECIMAL(65,0) (MySQL's widest DECIMAL) read as `bigint`. A uint256 can need 78
 *   digits; see `DECIMAL65_MAX` in `../amounts.ts` for how callers keep values inside 65.
 * - Identifiers of our own rows and of chain counters (token ids, listing ids) are signed BIGINT like the seed's ids,
 *   read as JS numbers (sequential counters stay far below 2^53). Chain positions (block numbers, log indexes, nonces,
 *   chain ids) are UNSIGNED, also read as numbers.
 * - Domain instants are DATETIME in UTC (no 2038 limit, no session-time-zone conversion): whole seconds for chain
 *   times (block timestamps are seconds), DATETIME(3) where milliseconds matter (sessions, leases, relayer clocks).
 *   Only the seed-style bookkeeping columns `created_at` / `updated_at` are TIMESTAMP.
 */

export type Hex = `0x${string}`;
/** A 20-byte address, lowercase: `0x` + 40 hex digits. */
export type Address = Hex;
/** A 32-byte hash (transaction, block), lowercase: `0x` + 64 hex digits. */
export type Hash = Hex;

const ASCII_BIN = "CHARACTER SET ascii COLLATE ascii_bin";

/** An address column: VARCHAR(42) like the seed's `wallet_address`, ASCII binary collation. Pair with `addressCheck`. */
export const address = customType<{ data: Address; driverData: string }>({
  dataType: () => `varchar(42) ${ASCII_BIN}`,
});

/** A 32-byte hash column: VARCHAR(66) like the seed's `tx_hash`, ASCII binary collation. Pair with `hashCheck`. */
export const hash = customType<{ data: Hash; driverData: string }>({
  dataType: () => `varchar(66) ${ASCII_BIN}`,
});

/** Arbitrary-length hex bytes (a signed raw transaction): MEDIUMTEXT (16 MiB) in ASCII. Pair with `hexBytesCheck`. */
export const hexBytes = customType<{ data: Hex; driverData: string }>({
  dataType: () => `mediumtext ${ASCII_BIN}`,
});

/**
 * A case-sensitive ASCII string (identifiers chosen by machines or clients: idempotency keys, request ids, owner ids).
 * The database's default collation is case-insensitive, which would make `Key-A` and `key-a` the same key.
 */
export const asciiString = customType<{ data: string; driverData: string; config: { length: number } }>({
  dataType: (config) => `varchar(${config?.length ?? 255}) ${ASCII_BIN}`,
});

/** A fixed-length case-sensitive ASCII string (hex digests without `0x`, UUIDs). */
export const asciiChar = customType<{ data: string; driverData: string; config: { length: number } }>({
  dataType: (config) => `char(${config?.length ?? 1}) ${ASCII_BIN}`,
});

/**
 * Raw bytes (ciphertexts, nonces, auth tags) as Node `Buffer`s. drizzle's own `varbinary`/`binary` map values to JS
 * strings, which would corrupt binary data, hence this type.
 */
export const bytes = customType<{ data: Buffer; driverData: Buffer; config: { length: number } }>({
  dataType: (config) => `varbinary(${config?.length ?? 255})`,
  fromDriver: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value)),
});

/**
 * A JSON document holding an object or array. MariaDB stores JSON as LONGTEXT (with a `json_valid` check) and mysql2
 * returns it as a string there (and, with `jsonStrings`, on MySQL too), so it is parsed here. `bigint` values are
 * written as decimal strings (JSON has no integer wider than 2^53) and come back as strings.
 */
export const jsonDocument = <T>(name: string) =>
  customType<{ data: T; driverData: string }>({
    dataType: () => "json",
    toDriver: (value) => JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v)),
    fromDriver: (value) => (typeof value === "string" ? JSON.parse(value) : value) as T,
  })(name);

/**
 * An amount in wei or token base units: DECIMAL(65,0) as the seed's `transactions.amount`, read and written as
 * `bigint`. MySQL's DECIMAL stops at 65 digits while a uint256 can need 78; values above `DECIMAL65_MAX` must be
 * rejected (API input) or flagged (indexer) by the caller, never truncated. Pair with `nonNegativeCheck`.
 */
export const wei = (name: string) => decimal(name, { precision: 65, scale: 0, mode: "bigint" });

/** A chain counter (nonce, fencing token): BIGINT UNSIGNED read as a number (2^53 is never reached). */
export const unsignedCounter = (name: string) => bigint(name, { mode: "number", unsigned: true });

/** A block number: BIGINT UNSIGNED read as a number (2^53 blocks is never reached). */
export const blockNumber = unsignedCounter;

/** A log's index within its block: INT UNSIGNED. */
export const logIndex = (name: string) => int(name, { unsigned: true });

/** A chain id (EIP-155): BIGINT UNSIGNED read as a number. */
export const chainId = (name: string) => bigint(name, { mode: "number", unsigned: true });

/** A row id: signed BIGINT like the seed's `id` columns, read as a number. */
export const rowId = (name: string) => bigint(name, { mode: "number" });

/**
 * `created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP`, written exactly as the seed writes it. The seed's tables keep the
 * seed's nullability (a TIMESTAMP without NOT NULL is nullable on MariaDB 10.10+ and MySQL 8); new tables add
 * `.notNull()`.
 */
export const createdAt = () => timestamp("created_at").default(sql`CURRENT_TIMESTAMP`);

/** `updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP`, as in the seed. */
export const updatedAt = () => timestamp("updated_at").default(sql`CURRENT_TIMESTAMP`).onUpdateNow();

/*
 * CHECK constraints, named `<table>_<column>_ck`. MariaDB (10.2+) and MySQL (8.0.16+) enforce them. REGEXP follows the
 * column's collation, and the hex columns are binary, so `[0-9a-f]` really means lowercase.
 */

const columnName = (column: MySqlColumn) => column.name;

const regexpCheck = (table: string, column: MySqlColumn, pattern: string) =>
  check(`${table}_${columnName(column)}_ck`, sql.raw(`\`${columnName(column)}\` REGEXP '${pattern}'`));

/** Lowercase `0x` + 40 hex digits. */
export const addressCheck = (table: string, column: MySqlColumn) => regexpCheck(table, column, "^0x[0-9a-f]{40}$");

/** Lowercase `0x` + 64 hex digits. */
export const hashCheck = (table: string, column: MySqlColumn) => regexpCheck(table, column, "^0x[0-9a-f]{64}$");

/**
 * Lowercase `0x` + whole bytes. A flat pattern plus an even length rather than `([0-9a-f]{2})+`, whose group repeat
 * could run into regex stack limits on a large transaction.
 */
export const hexBytesCheck = (table: string, column: MySqlColumn) =>
  check(
    `${table}_${columnName(column)}_ck`,
    sql.raw(`\`${columnName(column)}\` REGEXP '^0x[0-9a-f]+$' AND CHAR_LENGTH(\`${columnName(column)}\`) % 2 = 0`),
  );

/** Lowercase hex digits without prefix, of an exact length. */
export const hexDigestCheck = (table: string, column: MySqlColumn, digits: number) =>
  regexpCheck(table, column, `^[0-9a-f]{${digits}}$`);

/** `column >= 0` (DECIMAL UNSIGNED is deprecated in MySQL 8, and the seed's type is plain DECIMAL(65,0)). */
export const nonNegativeCheck = (table: string, column: MySqlColumn): ReturnType<typeof check> =>
  check(`${table}_${columnName(column)}_ck`, sql.raw(`\`${columnName(column)}\` >= 0`));

/** Any other named check, for the few table-specific rules. */
export const namedCheck = (table: string, name: string, condition: SQL) => check(`${table}_${name}_ck`, condition);
