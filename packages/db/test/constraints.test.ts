import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DECIMAL65_MAX } from "../src/amounts.ts";
import { isDuplicateKeyError } from "../src/errors.ts";
import { newTxRequestId } from "../src/ids.ts";
import { certificates, transactions, txRequests, users, wallets } from "../src/schema/index.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";
import { address, hash, newCertificate, newTransaction, newUser } from "./fixtures.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await database?.drop();
});

/** Runs `write` and returns the error it throws (failing the test if it does not). */
async function rejection(write: () => Promise<unknown>): Promise<unknown> {
  try {
    await write();
  } catch (error) {
    return error;
  }
  throw new Error("expected the write to be rejected");
}

describe("unique keys", () => {
  test("error: duplicate username, also in another letter case", async () => {
    const { db } = database;
    await db.insert(users).values(newUser({ username: "alice", email: "alice@example.com" }));
    const error = await rejection(() =>
      db.insert(users).values(newUser({ username: "alice", email: "a2@example.com" })),
    );
    expect(isDuplicateKeyError(error, "users_username_uq")).toBe(true);
    const upper = await rejection(() =>
      db.insert(users).values(newUser({ username: "ALICE", email: "a3@example.com" })),
    );
    expect(isDuplicateKeyError(upper, "users_username_uq")).toBe(true);
  });

  test("error: duplicate email", async () => {
    const { db } = database;
    await db.insert(users).values(newUser({ username: "bob", email: "bob@example.com" }));
    const error = await rejection(() =>
      db.insert(users).values(newUser({ username: "bob2", email: "bob@example.com" })),
    );
    expect(isDuplicateKeyError(error, "users_email_uq")).toBe(true);
    expect(isDuplicateKeyError(error, "users_username_uq")).toBe(false);
  });

  test("error: duplicate tx_hash", async () => {
    const { db } = database;
    const txHash = hash(1);
    await db.insert(transactions).values(newTransaction({ txHash }));
    const error = await rejection(() => db.insert(transactions).values(newTransaction({ txHash })));
    expect(isDuplicateKeyError(error, "transactions_tx_hash_uq")).toBe(true);
  });

  test("error: duplicate token_id", async () => {
    const { db } = database;
    await db.insert(certificates).values(newCertificate({ tokenId: 7 }));
    const error = await rejection(() => db.insert(certificates).values(newCertificate({ tokenId: 7 })));
    expect(isDuplicateKeyError(error, "certificates_token_id_uq")).toBe(true);
  });

  test("behavior: idempotency keys are unique per user, and per platform when user_id is NULL", async () => {
    const { db } = database;
    const [user] = await db
      .insert(users)
      .values(newUser({ username: "carol" }))
      .$returningId();
    const userId = user?.id ?? 0;
    const request = (userId: number | null, key: string) => ({
      id: newTxRequestId(),
      userId,
      idempotencyKey: key,
      kind: "eth_transfer" as const,
      payload: { to: address(9), amount: "1" },
    });
    await db.insert(txRequests).values(request(userId, "key-1"));
    await db.insert(txRequests).values(request(null, "key-1")); // another scope
    await db.insert(txRequests).values(request(userId, "KEY-1")); // keys are case-sensitive
    expect(
      isDuplicateKeyError(
        await rejection(() => db.insert(txRequests).values(request(userId, "key-1"))),
        "tx_requests_idempotency_uq",
      ),
    ).toBe(true);
    // The reason for the generated scope column: NULL user ids would not collide in UNIQUE(user_id, key).
    expect(
      isDuplicateKeyError(
        await rejection(() => db.insert(txRequests).values(request(null, "key-1"))),
        "tx_requests_idempotency_uq",
      ),
    ).toBe(true);
    const scopes = await db
      .select({ userId: txRequests.userId, scope: txRequests.idempotencyScope })
      .from(txRequests)
      .where(eq(txRequests.idempotencyKey, "key-1"));
    expect(scopes).toEqual(
      expect.arrayContaining([
        { userId, scope: userId },
        { userId: null, scope: 0 },
      ]),
    );
  });

  test("behavior: a wallet nonce belongs to one request; unreserved (NULL) nonces do not collide", async () => {
    const { db } = database;
    const request = (nonce: number | null) => ({
      id: newTxRequestId(),
      idempotencyKey: `nonce-${newTxRequestId()}`,
      kind: "noop" as const,
      payload: {},
      fromAddress: address(3),
      nonce,
    });
    await db.insert(txRequests).values([request(null), request(null), request(0), request(1)]);
    const error = await rejection(() => db.insert(txRequests).values(request(1)));
    expect(isDuplicateKeyError(error, "tx_requests_from_address_nonce_uq")).toBe(true);
  });
});

describe("checks", () => {
  /** The name of the CHECK constraint that refused the write (MariaDB: "CONSTRAINT `x` failed"; MySQL: "Check constraint 'x' is violated"). */
  async function violatedCheck(write: () => Promise<unknown>): Promise<string | undefined> {
    const error = await rejection(write);
    for (let e: unknown = error; e instanceof Error; e = e.cause) {
      const match = /CONSTRAINT `([^`]+)` failed|Check constraint '([^']+)' is violated/.exec(e.message);
      if (match) return match[1] ?? match[2];
    }
    throw error;
  }

  test("error: addresses and hashes must be lowercase 0x-hex of the right length", async () => {
    const { db } = database;
    const checksummed = "0xAbCdEf0000000000000000000000000000000001" as const;
    expect(
      await violatedCheck(() => db.insert(transactions).values(newTransaction({ fromAddress: checksummed }))),
    ).toBe("transactions_from_address_ck");
    expect(await violatedCheck(() => db.insert(transactions).values(newTransaction({ toAddress: "0x1234" })))).toBe(
      "transactions_to_address_ck",
    );
    expect(
      await violatedCheck(() => db.insert(transactions).values(newTransaction({ txHash: `0x${"A".repeat(64)}` }))),
    ).toBe("transactions_tx_hash_ck");
    expect(
      await violatedCheck(() =>
        db.insert(users).values(newUser({ username: "dave", walletAddress: `0x${"g".repeat(40)}` })),
      ),
    ).toBe("users_wallet_address_ck");
  });

  test("error: raw transactions must be lowercase 0x-hex of whole bytes", async () => {
    const { db } = database;
    const request = (rawTx: `0x${string}`) => ({
      id: newTxRequestId(),
      idempotencyKey: newTxRequestId(),
      kind: "noop" as const,
      payload: {},
      rawTx,
    });
    await db.insert(txRequests).values(request(`0x02f8${"ab".repeat(60_000)}`)); // large contract call
    expect(await violatedCheck(() => db.insert(txRequests).values(request("0x02f")))).toBe("tx_requests_raw_tx_ck");
    expect(await violatedCheck(() => db.insert(txRequests).values(request("0x02F8")))).toBe("tx_requests_raw_tx_ck");
  });

  test("error: negative amounts and request ids that are not UUIDs", async () => {
    const { db } = database;
    expect(await violatedCheck(() => db.insert(transactions).values(newTransaction({ amount: -1n })))).toBe(
      "transactions_amount_ck",
    );
    expect(
      await violatedCheck(() =>
        db.insert(txRequests).values({ id: "42", idempotencyKey: "k", kind: "noop", payload: {} }),
      ),
    ).toBe("tx_requests_id_ck");
  });
});

describe("amounts", () => {
  test("behavior: DECIMAL(65,0) keeps the largest 65-digit value exactly, as a bigint", async () => {
    const { db } = database;
    const txHash = hash(2);
    await db.insert(transactions).values(newTransaction({ txHash, amount: DECIMAL65_MAX }));
    const [row] = await db
      .select({ amount: transactions.amount })
      .from(transactions)
      .where(eq(transactions.txHash, txHash));
    expect(row?.amount).toBe(DECIMAL65_MAX);
    expect(row?.amount?.toString()).toHaveLength(65);
  });

  test("error: a value past 65 digits is refused (strict mode), never truncated", async () => {
    const { db } = database;
    const error = await rejection(() =>
      db.insert(transactions).values(newTransaction({ txHash: hash(3), amount: DECIMAL65_MAX + 1n })),
    );
    expect(String((error as Error).cause ?? error)).toMatch(/out of range/i);
    const [count] = await db
      .select({ n: sql<number>`count(*)` })
      .from(transactions)
      .where(eq(transactions.txHash, hash(3)));
    expect(Number(count?.n)).toBe(0);
  });
});

describe("foreign keys", () => {
  test("behavior: a user with a custodial wallet cannot be deleted (the key must not vanish)", async () => {
    const { db } = database;
    const [user] = await db
      .insert(users)
      .values(newUser({ username: "erin" }))
      .$returningId();
    const userId = user?.id ?? 0;
    await db.insert(wallets).values({
      userId,
      address: address(77),
      encryptedPrivateKey: Buffer.alloc(48, 0xff),
      iv: Buffer.alloc(12, 1),
      authTag: Buffer.alloc(16, 2),
      keyVersion: 1,
    });
    await expect(db.delete(users).where(eq(users.id, userId))).rejects.toThrow();
  });
});
