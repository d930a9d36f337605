import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadConfig } from "@certchain/common";
import { createConnection, type RowDataPacket } from "mysql2/promise";
import { afterAll, expect, test } from "vitest";
import { migrateDatabase } from "../src/migrate.ts";
import { withDatabase } from "../src/url.ts";

/** Every migration committed under `migrations/`, as drizzle's journal lists them. */
const migrationCount: number = JSON.parse(
  readFileSync(new URL("../migrations/meta/_journal.json", import.meta.url), "utf8"),
).entries.length;

/* These tests create databases by name (not through createTestDatabase) to see migrateDatabase create them. */

const serverUrl = loadConfig().databaseUrl;
const created: string[] = [];

function freshName(): string {
  const name = `certchain_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  created.push(name);
  return name;
}

async function query<T extends RowDataPacket[]>(sql: string, params: unknown[] = []): Promise<T> {
  const connection = await createConnection(withDatabase(serverUrl, "information_schema"));
  try {
    const [rows] = await connection.query<T>(sql, params);
    return rows;
  } finally {
    await connection.end();
  }
}

afterAll(async () => {
  for (const name of created) await query(`DROP DATABASE IF EXISTS \`${name}\``);
});

test("behavior: creates a missing database, then a second run is a no-op", async () => {
  const name = freshName();
  const url = withDatabase(serverUrl, name);

  const first = await migrateDatabase(url);
  expect(first).toMatchObject({ database: name, created: true, applied: migrationCount, total: migrationCount });
  const [schemaRow] = await query("SELECT DEFAULT_COLLATION_NAME AS collation FROM SCHEMATA WHERE SCHEMA_NAME = ?", [
    name,
  ]);
  expect(schemaRow?.collation).toBe("utf8mb4_unicode_ci");

  const tablesBefore = await query("SELECT TABLE_NAME, CREATE_TIME FROM TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1", [
    name,
  ]);
  const second = await migrateDatabase(url);
  expect(second).toMatchObject({ database: name, created: false, applied: 0, total: migrationCount });
  const tablesAfter = await query("SELECT TABLE_NAME, CREATE_TIME FROM TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1", [
    name,
  ]);
  expect(tablesAfter).toEqual(tablesBefore);
});

test("behavior: concurrent runs against a new database apply each migration once", async () => {
  const name = freshName();
  const url = withDatabase(serverUrl, name);
  const results = await Promise.all([migrateDatabase(url), migrateDatabase(url), migrateDatabase(url)]);
  expect(results.reduce((sum, result) => sum + result.applied, 0)).toBe(migrationCount);
  expect(results.every((result) => result.total === migrationCount)).toBe(true);
  const [count] = await query(`SELECT COUNT(*) AS n FROM \`${name}\`.__drizzle_migrations`);
  expect(Number(count?.n)).toBe(migrationCount);
});

test("error: a database name that would need quoting is refused before any SQL runs", async () => {
  await expect(migrateDatabase(withDatabase(serverUrl, "certchain`; DROP DATABASE mysql; --"))).rejects.toThrow(
    /DATABASE_URL names database .* use 1-64 letters, digits/,
  );
  await expect(migrateDatabase(withDatabase(serverUrl, ""))).rejects.toThrow(/names no database/);
});

test("error: wrong credentials give one clear line without the password", async () => {
  const url = new URL(withDatabase(serverUrl, "certchain_never_created"));
  url.username = "certchain_no_such_user";
  url.password = "hunter2-secret";
  const error = await migrateDatabase(url.toString()).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error?.name).toBe("UserFacingError");
  expect(error?.message).toMatch(/refused user "certchain_no_such_user": access denied — check the user and password/);
  expect(error?.message).not.toContain("hunter2");
  expect(error?.message).not.toContain("\n");
});
