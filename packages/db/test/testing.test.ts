import { loadConfig } from "@certchain/common";
import { sql } from "drizzle-orm";
import { createConnection, type RowDataPacket } from "mysql2/promise";
import { expect, test } from "vitest";
import { users } from "../src/schema/index.ts";
import { createTestDatabase, dropStaleTestDatabases } from "../src/testing.ts";
import { withDatabase } from "../src/url.ts";
import { newUser } from "./fixtures.ts";

const serverUrl = loadConfig().databaseUrl;

async function databaseExists(name: string): Promise<boolean> {
  const connection = await createConnection(withDatabase(serverUrl, "information_schema"));
  try {
    const [rows] = await connection.query<RowDataPacket[]>("SELECT 1 FROM SCHEMATA WHERE SCHEMA_NAME = ?", [name]);
    return rows.length > 0;
  } finally {
    await connection.end();
  }
}

test("behavior: test databases are separate, migrated, and gone after drop()", async () => {
  const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  try {
    expect(a.name).not.toBe(b.name);
    expect(a.name).toMatch(new RegExp(`^certchain_test_${process.pid}_[0-9a-f]{8}$`));
    expect(new URL(a.url).pathname).toBe(`/${a.name}`);

    await a.db.insert(users).values(newUser({ username: "only-in-a" }));
    const count = async (db: typeof a.db) => Number((await db.select({ n: sql<number>`count(*)` }).from(users))[0]?.n);
    expect(await count(a.db)).toBe(1);
    expect(await count(b.db)).toBe(0);
  } finally {
    await a.drop();
    await b.drop();
  }
  expect(await databaseExists(a.name)).toBe(false);
  expect(await databaseExists(b.name)).toBe(false);
  await expect(a.drop()).resolves.toBeUndefined(); // idempotent
});

test("behavior: dropStaleTestDatabases removes databases of dead processes only", async () => {
  const prefix = "certchain_stale_probe";
  const live = await createTestDatabase({ prefix });
  // A pid above Linux's maximum (2^22) can never be running.
  const deadName = `${prefix}_4194305_0badc0de`;
  const connection = await createConnection(withDatabase(serverUrl, "information_schema"));
  try {
    await connection.query(`CREATE DATABASE \`${deadName}\``);
    const dropped = await dropStaleTestDatabases({ prefix });
    expect(dropped).toEqual([deadName]);
    expect(await databaseExists(deadName)).toBe(false);
    expect(await databaseExists(live.name)).toBe(true);
  } finally {
    await connection.query(`DROP DATABASE IF EXISTS \`${deadName}\``);
    await connection.end();
    await live.drop();
  }
});

test("error: an unusable prefix is refused", async () => {
  await expect(createTestDatabase({ prefix: "Bad-Prefix" })).rejects.toThrow(/prefix/);
});
