import { eq, sql } from "drizzle-orm";
import type { RowDataPacket } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { pingDatabase } from "../src/client.ts";
import { isTxRequestId, newTxRequestId } from "../src/ids.ts";
import { certificates, sessions, txRequests, users, wallets } from "../src/schema/index.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";
import { address, newCertificate, newUser } from "./fixtures.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await database?.drop();
});

describe("timestamps", () => {
  test("behavior: updated_at moves on update (ON UPDATE CURRENT_TIMESTAMP), created_at does not", async () => {
    const { db } = database;
    const [inserted] = await db.insert(users).values(newUser()).$returningId();
    const userId = inserted?.id ?? 0;
    // Back-date both instead of sleeping past the TIMESTAMP's one-second resolution.
    const past = new Date("2001-02-03T04:05:06Z");
    await db.update(users).set({ createdAt: past, updatedAt: past }).where(eq(users.id, userId));
    await db.update(users).set({ role: "issuer" }).where(eq(users.id, userId));
    const [row] = await db.select().from(users).where(eq(users.id, userId));
    expect(row?.createdAt).toEqual(past);
    expect(row?.updatedAt?.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(row?.role).toBe("issuer");
  });

  test("behavior: every connection runs in UTC and strict mode, whatever the server's defaults", async () => {
    const [rows] = await database.pool.query<RowDataPacket[]>(
      "SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode",
    );
    expect(rows[0]?.tz).toBe("+00:00");
    expect(rows[0]?.mode).toContain("STRICT_ALL_TABLES");
  });

  test("behavior: defaults are UTC instants and DATETIME(3) round-trips milliseconds", async () => {
    const { db } = database;
    const [user] = await db.insert(users).values(newUser()).$returningId();
    const expiresAt = new Date("2040-06-07T08:09:10.123Z"); // past TIMESTAMP's 2038 limit on purpose
    await db.insert(sessions).values({ id: "a".repeat(64), userId: user?.id ?? 0, expiresAt });
    const [session] = await db
      .select()
      .from(sessions)
      .where(eq(sessions.id, "a".repeat(64)));
    expect(session?.expiresAt).toEqual(expiresAt);
    expect(Math.abs((session?.createdAt.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    // Raw pool queries agree with drizzle about the instant.
    const [raw] = await database.pool.query<RowDataPacket[]>(
      "SELECT expires_at, created_at FROM sessions WHERE id = ?",
      ["a".repeat(64)],
    );
    expect(raw[0]?.expires_at).toEqual(expiresAt);
    expect(raw[0]?.created_at).toEqual(session?.createdAt);
  });
});

describe("column types", () => {
  test("behavior: key material round-trips byte for byte (VARBINARY as Buffer)", async () => {
    const { db } = database;
    const [user] = await db.insert(users).values(newUser()).$returningId();
    const ciphertext = Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 37 + 200) % 256));
    await db.insert(wallets).values({
      userId: user?.id ?? 0,
      address: address(500),
      encryptedPrivateKey: ciphertext,
      iv: Buffer.alloc(12, 0xfe),
      authTag: Buffer.alloc(16, 0x80),
      keyVersion: 1,
    });
    const [wallet] = await db
      .select()
      .from(wallets)
      .where(eq(wallets.address, address(500)));
    expect(Buffer.compare(wallet?.encryptedPrivateKey ?? Buffer.alloc(0), ciphertext)).toBe(0);
    expect(wallet?.iv).toEqual(Buffer.alloc(12, 0xfe));
    expect(wallet?.authTag).toEqual(Buffer.alloc(16, 0x80));
  });

  test("behavior: JSON payloads round-trip as objects, bigints as decimal strings", async () => {
    const { db } = database;
    const id = newTxRequestId();
    await db.insert(txRequests).values({
      id,
      idempotencyKey: id,
      kind: "buy",
      payload: { listingId: 3, expectedPrice: 12345678901234567890123n, note: "ünïcødé <b>" },
    });
    const [row] = await db.select().from(txRequests).where(eq(txRequests.id, id));
    expect(row?.payload).toEqual({ listingId: 3, expectedPrice: "12345678901234567890123", note: "ünïcødé <b>" });
    expect(row?.status).toBe("queued");
    expect(row?.attempts).toBe(0);
  });

  test("behavior: certificates keep chain values (token ids as numbers, nullable expiry)", async () => {
    const { db } = database;
    await db.insert(certificates).values(newCertificate({ tokenId: 1, expiresAt: null }));
    const [row] = await db.select().from(certificates).where(eq(certificates.tokenId, 1));
    expect(row).toMatchObject({ tokenId: 1, expiresAt: null, revokedAt: null, status: "valid" });
    expect(typeof row?.blockNumber).toBe("number");
  });
});

describe("tx request ids", () => {
  test("behavior: UUIDv7, time-ordered, valid BullMQ job ids", () => {
    const first = newTxRequestId(1_700_000_000_000);
    const second = newTxRequestId(1_700_000_000_001);
    expect(isTxRequestId(first)).toBe(true);
    expect(first < second).toBe(true);
    expect(first).not.toMatch(/^\d+$/);
    expect(first).not.toContain(":");
    expect(new Set(Array.from({ length: 1000 }, () => newTxRequestId())).size).toBe(1000);
  });
});

describe("queries across tables", () => {
  test("behavior: a session and its user in one join; db.query works without `with`", async () => {
    const { db } = database;
    const [user] = await db
      .insert(users)
      .values(newUser({ username: "rq" }))
      .$returningId();
    const userId = user?.id ?? 0;
    await db.insert(sessions).values({ id: "b".repeat(64), userId, expiresAt: new Date(Date.now() + 86_400_000) });
    const rows = await db
      .select({ sessionId: sessions.id, userId: users.id, username: users.username, role: users.role })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, "b".repeat(64)));
    expect(rows).toEqual([{ sessionId: "b".repeat(64), userId, username: "rq", role: "user" }]);
    const found = await db.query.users.findFirst({ where: eq(users.username, "RQ"), columns: { id: true } });
    expect(found).toEqual({ id: userId }); // usernames compare case-insensitively
  });

  test("behavior: deleting a user deletes their sessions (ON DELETE CASCADE)", async () => {
    const { db } = database;
    const [user] = await db.insert(users).values(newUser()).$returningId();
    await db.insert(sessions).values({ id: "c".repeat(64), userId: user?.id ?? 0, expiresAt: new Date() });
    await db.delete(users).where(eq(users.id, user?.id ?? 0));
    const [count] = await db
      .select({ n: sql<number>`count(*)` })
      .from(sessions)
      .where(eq(sessions.id, "c".repeat(64)));
    expect(Number(count?.n)).toBe(0);
  });
});

test("behavior: pingDatabase succeeds on a reachable database", async () => {
  await expect(pingDatabase(database, database.url)).resolves.toBeUndefined();
});
