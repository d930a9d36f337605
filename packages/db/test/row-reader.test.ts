import { type AnyColumn, eq } from "drizzle-orm";
import { datetime, type MySqlTable, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createRowReader } from "../src/row-reader.ts";
import { apiKeys, certificates, transactions, users } from "../src/schema/index.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";
import { address, newCertificate, newTransaction, newUser } from "./fixtures.ts";

/**
 * `createRowReader` must answer exactly what drizzle's `select().from(table).where(eq(column, value))` answers. The
 * rows below cover every column type the schema uses: BIGINT as numbers, INT UNSIGNED, VARCHAR, TEXT, ENUM, DECIMAL as
 * bigint, TIMESTAMP, DATETIME with and without milliseconds, our custom types (ASCII strings, addresses, hashes, JSON,
 * raw bytes), and NULLs.
 */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  await database?.drop();
});

/** What drizzle's own select answers for `column = value`, first row. */
async function drizzleRow(table: MySqlTable, column: AnyColumn, value: unknown) {
  const rows = await database.db.select().from(table).where(eq(column, value));
  return rows[0];
}

/** API key ids are `ck_` and 20 base32 letters (a CHECK constraint). */
const KEY_ID = "ck_abcdefghijklmnopqrst";

describe("the same answer as drizzle", () => {
  test("behavior: certificates, with every optional field set and with none", async () => {
    const { db, pool } = database;
    const full = newCertificate({
      expiresAt: new Date("2026-06-30T12:34:56Z"),
      revokedAt: new Date("2026-01-02T03:04:05Z"),
      revokedByAddress: address(12),
      revocationReason: "issued in error — ré-émis 🎓",
      status: "invalid",
    });
    const bare = newCertificate();
    await db.insert(certificates).values([full, bare]);
    const read = createRowReader(pool, certificates, certificates.tokenId);
    for (const tokenId of [full.tokenId, bare.tokenId]) {
      const expected = await drizzleRow(certificates, certificates.tokenId, tokenId);
      expect(expected).toBeDefined();
      expect(await read(tokenId)).toEqual(expected);
    }
    expect((await read(full.tokenId))?.expiresAt).toEqual(new Date("2026-06-30T12:34:56Z"));
  });

  test("behavior: DATETIMEs in the years 0 to 99, which a Date built from their parts would put in the 1900s", async () => {
    const { db, pool } = database;
    const ancient = newCertificate({
      issuedAt: new Date("0050-06-15T10:20:30Z"),
      expiresAt: new Date("0099-12-31T23:59:59Z"),
    });
    await db.insert(certificates).values(ancient);
    const row = await createRowReader(pool, certificates, certificates.tokenId)(ancient.tokenId);
    expect(row).toEqual(await drizzleRow(certificates, certificates.tokenId, ancient.tokenId));
    expect(row?.issuedAt.toISOString()).toBe("0050-06-15T10:20:30.000Z");
  });

  test("behavior: API keys: JSON, raw bytes, ASCII strings, INT UNSIGNED and DATETIME(3) with milliseconds", async () => {
    const { db, pool } = database;
    const [user] = await db.insert(users).values(newUser()).$returningId();
    await db.insert(apiKeys).values({
      keyId: KEY_ID,
      userId: user?.id as number,
      name: "nightly export",
      scopes: ["read", "certificates:write"],
      encryptedSecret: Buffer.from([0, 255, 1, 254, 128]),
      iv: Buffer.alloc(12, 7),
      authTag: Buffer.alloc(16, 9),
      keyVersion: 3,
      lastUsedAt: new Date("2026-12-07T08:09:10.123Z"),
    });
    const read = createRowReader(pool, apiKeys, apiKeys.keyId);
    const expected = await drizzleRow(apiKeys, apiKeys.keyId, KEY_ID);
    const row = await read(KEY_ID);
    expect(row).toEqual(expected);
    expect(row?.lastUsedAt?.getUTCMilliseconds()).toBe(123);
    expect(Buffer.isBuffer(row?.encryptedSecret)).toBe(true);
    expect(row?.scopes).toEqual(["read", "certificates:write"]);
    // The key column is case-sensitive, as through drizzle.
    expect(await read(KEY_ID.toUpperCase())).toBeUndefined();
  });

  test("behavior: transactions: a DECIMAL(65,0) amount beyond 2^64 comes back as the same bigint", async () => {
    const { db, pool } = database;
    const amount = 2n ** 200n + 12345n;
    const [inserted] = await db.insert(transactions).values(newTransaction({ amount })).$returningId();
    const read = createRowReader(pool, transactions, transactions.id);
    const row = await read(inserted?.id as number);
    expect(row).toEqual(await drizzleRow(transactions, transactions.id, inserted?.id));
    expect(row?.amount).toBe(amount);
  });
});

test("default: a value no row has gives undefined", async () => {
  const read = createRowReader(database.pool, certificates, certificates.tokenId);
  expect(await read(987_654_321)).toBeUndefined();
});

test("error: a column of another table, or a date column drizzle reads as text, is refused when the reader is made", () => {
  expect(() => createRowReader(database.pool, certificates, users.id)).toThrow(/not a column of certificates/);
  const withStringDates = mysqlTable("with_string_dates", {
    name: varchar("name", { length: 10 }),
    at: datetime("at", { mode: "string" }),
  });
  expect(() => createRowReader(database.pool, withStringDates, withStringDates.name)).toThrow(
    /with_string_dates\.at is a MySqlDateTimeString/,
  );
});
