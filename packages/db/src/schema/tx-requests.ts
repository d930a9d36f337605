import { sql } from "drizzle-orm";
import {
  bigint,
  datetime,
  foreignKey,
  index,
  int,
  mysqlEnum,
  mysqlTable,
  text,
  unique,
  varchar,
} from "drizzle-orm/mysql-core";
import {
  address,
  addressCheck,
  asciiChar,
  asciiString,
  blockNumber,
  createdAt,
  hash,
  hashCheck,
  hexBytes,
  hexBytesCheck,
  jsonDocument,
  namedCheck,
  rowId,
  unsignedCounter,
  updatedAt,
  wei,
} from "./columns.ts";
import { users } from "./users.ts";

/** What the relayer is asked to do; one BullMQ job kind each (zod payloads live in `packages/queue`). */
export const txRequestKinds = [
  "issue",
  "revoke",
  "grant_issuer",
  "revoke_issuer",
  "approve",
  "list",
  "cancel",
  "buy",
  "withdraw",
  "eth_transfer",
  "token_transfer",
  /** A zero-value self-transfer that fills a nonce gap; created by the relayer itself. */
  "noop",
] as const;
export type TxRequestKind = (typeof txRequestKinds)[number];

/**
 * `queued → signed → sent → mined → confirmed`; or `failed` (with a reason), `replaced` (its nonce was used by a
 * transaction that is not one of its `tx_request_hashes`), `cancelled` (its cancellation won the nonce). A reorg that drops a
 * mined transaction moves it back to `sent`.
 */
export const txRequestStatuses = [
  "queued",
  "signed",
  "sent",
  "mined",
  "confirmed",
  "failed",
  "replaced",
  "cancelled",
] as const;
export type TxRequestStatus = (typeof txRequestStatuses)[number];

/**
 * Outgoing transactions: one row per thing a user (or the platform) asked the chain to do, owned by the relayer.
 *
 * Id: a UUIDv7 string (`newTxRequestId()`), returned to clients as `requestId` and used as the BullMQ job id (BullMQ
 * rejects ids that are all digits or contain `:`). It is known before the insert, so "row first, then job with the same
 * id" needs no round trip, and being time-ordered it keeps InnoDB's clustered index append-mostly and `ORDER BY id`
 * chronological.
 *
 * Idempotency: UNIQUE(`idempotency_scope`, `idempotency_key`), where the scope is generated from `user_id` (0 for
 * platform requests with no user). A plain UNIQUE(`user_id`, `idempotency_key`) would not hold for NULL `user_id`s,
 * since MySQL lets NULLs repeat in a unique key. Insert, and on a duplicate-key error read the existing row back.
 *
 * Nonces: UNIQUE(`from_address`, `nonce`) means one request owns a nonce of a wallet; NULL nonces (not yet
 * reserved) do not collide. Fee bumps and cancellations reuse the nonce as further rows of `tx_request_hashes`, not
 * as new requests. `tx_hash` / `raw_tx` here mirror the variant the relayer currently stands behind (the mined one,
 * once mined).
 */
export const txRequests = mysqlTable(
  "tx_requests",
  {
    id: asciiChar("id", { length: 36 }).primaryKey(),
    /** Who asked; NULL for the platform's own requests (nonce fillers, development funding). */
    userId: rowId("user_id"),
    /** Client-chosen (input field or `Idempotency-Key` header), or derived by the platform for its own requests. */
    idempotencyKey: asciiString("idempotency_key", { length: 128 }).notNull(),
    /** `user_id`, or 0 for platform requests: the namespace of `idempotency_key`. */
    idempotencyScope: bigint("idempotency_scope", { mode: "number" }).generatedAlwaysAs(sql`ifnull(\`user_id\`, 0)`, {
      mode: "stored",
    }),
    kind: mysqlEnum("kind", txRequestKinds).notNull(),
    /**
     * A request that must be mined before this one is even simulated: listing a certificate needs the Marketplace's
     * approval first, buying with the payment token needs an allowance. The relayer holds this one `queued` until the
     * other is mined, and fails it (`dependency_failed`) if the other fails.
     */
    dependsOn: asciiChar("depends_on", { length: 36 }),
    /**
     * The job's input as validated by `packages/queue` (amounts as decimal strings). Never a private key: keys are
     * read from `wallets` when signing.
     */
    payload: jsonDocument<Record<string, unknown>>("payload").notNull(),
    /** The sending wallet; NULL until the relayer has chosen it. */
    fromAddress: address("from_address"),
    /** The transaction's `to` (contract or recipient), once built. */
    toAddress: address("to_address"),
    /** Reserved before signing; persisted with the signed bytes before the broadcast. */
    nonce: unsignedCounter("nonce"),
    /** The signed transaction (`0x…`), persisted before the first broadcast; retries resend these exact bytes. */
    rawTx: hexBytes("raw_tx"),
    txHash: hash("tx_hash"),
    status: mysqlEnum("status", txRequestStatuses).notNull().default("queued"),
    /** Machine-readable reason for `failed` (a decoded custom error such as `NotIssuer`, `insufficient_funds`). */
    errorCode: varchar("error_code", { length: 100 }),
    /** Human-readable detail for `failed`; never holds keys or signed bytes. */
    errorMessage: text("error_message"),
    /**
     * How many times a worker has started processing this request (for retry limits). Not the number of signed
     * variants: those are `tx_request_hashes` rows.
     */
    attempts: int("attempts", { unsigned: true }).notNull().default(0),
    /** Where it was mined; NULL until then (and again after a reorg drops it). */
    blockNumber: blockNumber("block_number"),
    blockHash: hash("block_hash"),
    createdAt: createdAt().notNull(),
    updatedAt: updatedAt().notNull(),
    /** First broadcast (UTC): the clock for "not mined after N seconds → replace with higher fees". */
    sentAt: datetime("sent_at", { fsp: 3 }),
    confirmedAt: datetime("confirmed_at", { fsp: 3 }),
  },
  (t) => [
    unique("tx_requests_idempotency_uq").on(t.idempotencyScope, t.idempotencyKey),
    unique("tx_requests_from_address_nonce_uq").on(t.fromAddress, t.nonce),
    // A wallet's queued requests (its next batch) and its unmined ones (what they may still spend).
    index("tx_requests_from_address_status_idx").on(t.fromAddress, t.status),
    // Sweepers: queued rows with no job, sent rows waiting too long, mined rows awaiting confirmations.
    index("tx_requests_status_updated_at_idx").on(t.status, t.updatedAt),
    // "My requests", newest first (ids are time-ordered).
    index("tx_requests_user_id_id_idx").on(t.userId, t.id),
    // Requests waiting on one that just failed or got mined.
    index("tx_requests_depends_on_idx").on(t.dependsOn),
    foreignKey({
      name: "tx_requests_depends_on_fk",
      columns: [t.dependsOn],
      foreignColumns: [t.id],
    }).onDelete("restrict"),
    foreignKey({ name: "tx_requests_user_id_fk", columns: [t.userId], foreignColumns: [users.id] }).onDelete(
      "restrict",
    ),
    namedCheck(
      "tx_requests",
      "id",
      sql.raw("`id` REGEXP '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"),
    ),
    addressCheck("tx_requests", t.fromAddress),
    addressCheck("tx_requests", t.toAddress),
    hexBytesCheck("tx_requests", t.rawTx),
    hashCheck("tx_requests", t.txHash),
    hashCheck("tx_requests", t.blockHash),
  ],
);

export const txRequestHashPurposes = ["original", "speed_up", "cancel"] as const;
export type TxRequestHashPurpose = (typeof txRequestHashPurposes)[number];

/** `signed` (persisted, not yet broadcast) → `sent` → `mined`; or `replaced` (a sibling was mined) / `dropped`. */
export const txRequestHashStatuses = ["signed", "sent", "mined", "replaced", "dropped"] as const;
export type TxRequestHashStatus = (typeof txRequestHashStatuses)[number];

/**
 * Every signed variant of a request: the first signature, each fee bump (same nonce, ≥ 10 % higher fees) and a
 * cancellation (a zero-value self-transfer at the same nonce). Any of them may be the one that gets mined, and a reorg
 * may need any of them rebroadcast, so each keeps its own hash and exact bytes, written before its broadcast.
 */
export const txRequestHashes = mysqlTable(
  "tx_request_hashes",
  {
    id: rowId("id").primaryKey().autoincrement(),
    txRequestId: asciiChar("tx_request_id", { length: 36 }).notNull(),
    purpose: mysqlEnum("purpose", txRequestHashPurposes).notNull().default("original"),
    status: mysqlEnum("status", txRequestHashStatuses).notNull().default("signed"),
    nonce: unsignedCounter("nonce").notNull(),
    txHash: hash("tx_hash").notNull(),
    rawTx: hexBytes("raw_tx").notNull(),
    /** EIP-1559 fees in wei (NULL for a legacy transaction, which has `gas_price`). */
    maxFeePerGas: wei("max_fee_per_gas"),
    maxPriorityFeePerGas: wei("max_priority_fee_per_gas"),
    gasPrice: wei("gas_price"),
    createdAt: createdAt().notNull(),
    updatedAt: updatedAt().notNull(),
    sentAt: datetime("sent_at", { fsp: 3 }),
  },
  (t) => [
    unique("tx_request_hashes_tx_hash_uq").on(t.txHash),
    index("tx_request_hashes_tx_request_id_idx").on(t.txRequestId, t.id),
    foreignKey({
      name: "tx_request_hashes_tx_request_id_fk",
      columns: [t.txRequestId],
      foreignColumns: [txRequests.id],
    }).onDelete("cascade"),
    hashCheck("tx_request_hashes", t.txHash),
    hexBytesCheck("tx_request_hashes", t.rawTx),
  ],
);

/**
 * Per-wallet nonce ownership, for relayers that allocate nonces in MySQL: `SELECT … FOR UPDATE` the wallet's row,
 * take `next_nonce`, write it into `tx_requests` and increment, all in one transaction, so a nonce is never handed out
 * twice and never handed out without its request. The lease columns say which relayer process sends for the wallet;
 * `lease_token` increases on every takeover and writes made under an older token are refused (fencing). Compare
 * expiry with the database clock (`NOW(3)`), not the process's.
 */
export const walletNonces = mysqlTable(
  "wallet_nonces",
  {
    address: address("address").primaryKey(),
    /** The next nonce to hand out (the chain's pending nonce after a repair). */
    nextNonce: unsignedCounter("next_nonce").notNull().default(0),
    /** The relayer process that holds the wallet, e.g. `<hostname>:<pid>:<random>`. */
    leaseOwner: asciiString("lease_owner", { length: 128 }),
    leaseToken: unsignedCounter("lease_token").notNull().default(0),
    leaseExpiresAt: datetime("lease_expires_at", { fsp: 3 }),
    updatedAt: updatedAt().notNull(),
  },
  (t) => [addressCheck("wallet_nonces", t.address)],
);
