/**
 * The API benchmark's data: users with sessions, 100,000 certificates, 20,000 listings and 50,000 transactions, written
 * straight into a fresh database with multi-row INSERTs (a few seconds), shaped like what the indexer writes.
 */
import { createHash } from "node:crypto";
import {
  certificates,
  ETH_CURRENCY_ADDRESS,
  listings,
  type NewCertificate,
  type NewListing,
  type NewSession,
  type NewTransaction,
  type NewUser,
  sessions,
  transactionKinds,
  transactions,
  users,
} from "@certchain/db";
import { getTableColumns, getTableName, type InferInsertModel } from "drizzle-orm";
import type { MySqlTable } from "drizzle-orm/mysql-core";
import type { Pool } from "mysql2/promise";
import { hashPassword } from "../../../apps/api/src/auth/passwords.ts";
import { generateSessionToken, sessionIdOf } from "../../../apps/api/src/auth/session-token.ts";
import { SESSION_LIFETIME_MS } from "../../../apps/api/src/auth/sessions.ts";

export const USERS = 1_000;
export const ISSUERS = 20;
export const CERTIFICATES = 100_000;
/** 3 in 5 active, then sold, cancelled. */
export const LISTINGS = 20_000;
export const TRANSACTIONS = 50_000;
/** One transaction in this many is the bench user's (sent or received), so theirs are a small share of the table. */
const BENCH_USER_SHARE = 20;
/** Every tenth certificate is revoked. */
const REVOKED_EVERY = 10;
const ISSUES_PER_BLOCK = 10;
const ROWS_PER_INSERT = 2_000;
/** Statements in flight at once (the seeding pool's size). */
const INSERTS_IN_FLIGHT = 4;
const GENESIS = Date.UTC(2025, 0, 1);
const BLOCK_SECONDS = 2;

export type Address = `0x${string}`;

export type SeededData = {
  /** The user whose sessions and transactions the authenticated runs use. */
  benchUser: { username: string; password: string; token: string; walletAddress: Address };
  /** Wallets that own certificates (each owns CERTIFICATES / USERS of them). */
  owners: Address[];
  issuers: Address[];
  counts: { users: number; sessions: number; certificates: number; listings: number; transactions: number };
};

const hex = (text: string, digits: number) => createHash("sha256").update(text).digest("hex").slice(0, digits);
const address = (seed: string): Address => `0x${hex(seed, 40)}`;
const hash32 = (seed: string): Address => `0x${hex(seed, 64)}`;
const blockTime = (block: number) => new Date(GENESIS + block * BLOCK_SECONDS * 1000);
const pick = <T>(values: readonly T[], i: number): T => values[i % values.length] as T;

/**
 * Inserts typed rows in multi-row statements of ROWS_PER_INSERT rows, several at once. Column names come from the
 * drizzle schema; the statement is built by mysql2 (`VALUES ?`), because drizzle's builder takes ~0.4 ms per row,
 * which would make seeding a minute instead of seconds. Every row must set the same keys (nulls spelled out).
 */
async function insertRows<Table extends MySqlTable>(
  pool: Pool,
  table: Table,
  rows: Array<InferInsertModel<Table>>,
): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  const keys = Object.keys(first);
  const names = keys.map((key) => {
    const column = columns[key];
    if (!column) throw new Error(`${getTableName(table)} has no column for ${key}`);
    return `\`${column.name}\``;
  });
  const statement = `INSERT INTO \`${getTableName(table)}\` (${names.join(", ")}) VALUES ?`;
  const toValues = (row: Record<string, unknown>) => {
    if (Object.keys(row).length !== keys.length) throw new Error(`${getTableName(table)}: rows set different columns`);
    return keys.map((key) => (typeof row[key] === "bigint" ? String(row[key]) : row[key]));
  };
  const batches: unknown[][][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    batches.push(rows.slice(i, i + ROWS_PER_INSERT).map((row) => toValues(row as Record<string, unknown>)));
  }
  let next = 0;
  const worker = async () => {
    for (let batch = batches[next++]; batch; batch = batches[next++]) {
      // mysql2's error carries the whole statement (megabytes): keep only its message.
      await pool.query(statement, [batch]).catch((error: Error) => {
        throw new Error(`seeding ${getTableName(table)} failed: ${error.message}`);
      });
    }
  };
  await Promise.all(Array.from({ length: INSERTS_IN_FLIGHT }, worker));
}

export async function seedDatabase(pool: Pool, options: { paymentToken: Address }): Promise<SeededData> {
  const now = new Date();
  const password = "bench-password-1";
  // One argon2id hash for everyone (same parameters as registration): only the bench user logs in.
  const passwordHash = await hashPassword(password);

  const userRows: NewUser[] = [];
  for (let i = 0; i < USERS; i++) {
    userRows.push({
      username: `bench_user_${i}`,
      email: `bench_user_${i}@example.com`,
      passwordHash,
      walletAddress: address(`wallet ${i}`),
      role: i < ISSUERS ? "issuer" : "user",
    });
  }
  const benchUser = { username: "bench", password, token: generateSessionToken(), walletAddress: address("bench") };
  userRows.push({
    username: benchUser.username,
    email: "bench@example.com",
    passwordHash,
    walletAddress: benchUser.walletAddress,
    role: "user",
  });
  await insertRows(pool, users, userRows);
  const [ids] = (await pool.query("SELECT id, username FROM users")) as unknown as [
    Array<{ id: number; username: string }>,
  ];
  const benchUserId = ids.find((u) => u.username === benchUser.username)?.id;
  if (benchUserId === undefined) throw new Error("the bench user was not inserted");

  const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
  const sessionRows: NewSession[] = ids.map(({ id }) => ({
    id: sessionIdOf(id === benchUserId ? benchUser.token : generateSessionToken()),
    userId: id,
    expiresAt,
    lastVerifiedAt: now,
    userAgent: "bench",
    ip: "127.0.0.1",
  }));
  await insertRows(pool, sessions, sessionRows);

  const owners = userRows.slice(0, USERS).map((u) => u.walletAddress as Address);
  const issuers = owners.slice(0, ISSUERS);
  const certificateRows: NewCertificate[] = [];
  for (let t = 1; t <= CERTIFICATES; t++) {
    const block = Math.ceil(t / ISSUES_PER_BLOCK);
    const revoked = t % REVOKED_EVERY === 0;
    const issuer = pick(issuers, t);
    const lastBlock = revoked ? block + 1_000 : block;
    certificateRows.push({
      tokenId: t,
      ownerAddress: pick(owners, t),
      ipfsHash: `bafybench${hex(`cid ${t}`, 40)}`,
      status: revoked ? "invalid" : "valid",
      issuerAddress: issuer,
      issuedAt: blockTime(block),
      expiresAt: t % 3 === 0 ? new Date(GENESIS + 5 * 365 * 86_400_000) : null,
      revokedAt: revoked ? blockTime(lastBlock) : null,
      revokedByAddress: revoked ? issuer : null,
      revocationReason: revoked ? "issued in error" : null,
      issueTxHash: hash32(`issue ${t}`),
      issuedBlockNumber: block,
      blockNumber: lastBlock,
      blockHash: hash32(`block ${lastBlock}`),
      logIndex: t % ISSUES_PER_BLOCK,
    });
  }
  await insertRows(pool, certificates, certificateRows);

  const statuses = ["active", "active", "active", "sold", "cancelled"] as const;
  const listingRows: NewListing[] = [];
  for (let i = 1; i <= LISTINGS; i++) {
    // Token 5i - 2 is never a revoked one (those are multiples of 10).
    const tokenId = 5 * i - 2;
    const status = pick(statuses, i);
    const block = CERTIFICATES / ISSUES_PER_BLOCK + i;
    const closedBlock = block + 500;
    listingRows.push({
      listingId: i,
      tokenId,
      sellerAddress: pick(owners, tokenId),
      currencyAddress: i % 3 === 0 ? options.paymentToken : ETH_CURRENCY_ADDRESS,
      price: BigInt(1 + ((i * 7_919) % 5_000)) * 10n ** 14n,
      status,
      buyerAddress: status === "sold" ? pick(owners, tokenId + 1) : null,
      fee: status === "sold" ? 10n ** 12n : null,
      listedAt: blockTime(block),
      closedAt: status === "active" ? null : blockTime(closedBlock),
      createdTxHash: hash32(`list ${i}`),
      createdBlockNumber: block,
      createdBlockHash: hash32(`block ${block}`),
      createdLogIndex: 0,
      blockNumber: status === "active" ? block : closedBlock,
      blockHash: hash32(`block ${status === "active" ? block : closedBlock}`),
      logIndex: 0,
    });
  }
  await insertRows(pool, listings, listingRows);

  const transactionRows: NewTransaction[] = [];
  for (let i = 0; i < TRANSACTIONS; i++) {
    const mine = i % BENCH_USER_SHARE === 0;
    const from = mine && i % (2 * BENCH_USER_SHARE) === 0 ? benchUser.walletAddress : pick(owners, i);
    const to = mine && from !== benchUser.walletAddress ? benchUser.walletAddress : pick(owners, i * 7 + 3);
    const status = i % 50 === 1 ? "pending" : i % 50 === 2 ? "failed" : "completed";
    const block = status === "pending" ? null : 20_000 + Math.floor(i / 5);
    transactionRows.push({
      txHash: hash32(`tx ${i}`),
      fromAddress: from,
      toAddress: to,
      amount: BigInt(i + 1) * 10n ** 13n,
      tokenId: (i % CERTIFICATES) + 1,
      status,
      kind: pick(transactionKinds, i),
      currencyAddress: ETH_CURRENCY_ADDRESS,
      blockNumber: block,
      blockHash: block === null ? null : hash32(`block ${block}`),
      logIndex: block === null ? null : i % 5,
      blockTimestamp: block === null ? null : blockTime(block),
      failureReason: status === "failed" ? "reverted" : null,
    });
  }
  await insertRows(pool, transactions, transactionRows);

  return {
    benchUser,
    owners,
    issuers,
    counts: {
      users: userRows.length,
      sessions: sessionRows.length,
      certificates: certificateRows.length,
      listings: listingRows.length,
      transactions: transactionRows.length,
    },
  };
}
