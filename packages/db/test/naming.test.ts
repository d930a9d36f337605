import { is } from "drizzle-orm";
import { getTableConfig, MySqlTable } from "drizzle-orm/mysql-core";
import type { RowDataPacket } from "mysql2/promise";
import { afterAll, beforeAll, expect, test } from "vitest";
import * as schema from "../src/schema/index.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

/*
 * Naming convention: indexes `<table>_<columns>_idx`, unique keys `<table>_<columns>_uq`, foreign keys
 * `<table>_<column>_fk`, checks `<table>_<column>_ck`. Names are explicit in the schema, never generated, so a
 * migration that touches an index names it the same way on every server.
 */

const tables: MySqlTable[] = Object.values(schema as Record<string, unknown>).filter((value): value is MySqlTable =>
  is(value, MySqlTable),
);

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await database?.drop();
});

test("behavior: every non-primary index is named <table>_…_idx or <table>_…_uq, matching its uniqueness", async () => {
  const [rows] = await database.pool.query<RowDataPacket[]>(
    `SELECT DISTINCT TABLE_NAME AS tableName, INDEX_NAME AS indexName, NON_UNIQUE AS nonUnique
		   FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND INDEX_NAME <> 'PRIMARY'`,
    [database.name],
  );
  expect(rows.length).toBeGreaterThan(20);
  for (const { tableName, indexName, nonUnique } of rows) {
    const suffix = Number(nonUnique) === 1 ? "idx" : "uq";
    expect(indexName, `${tableName}.${indexName}`).toMatch(new RegExp(`^${tableName}_[a-z0-9_]+_${suffix}$`));
  }
});

test("behavior: the database has exactly the indexes the schema declares (no implicit foreign-key indexes)", async () => {
  const declared = tables.flatMap((table) => {
    const config = getTableConfig(table);
    return [
      ...config.indexes.map((index) => `${config.name}.${index.config.name}`),
      ...config.uniqueConstraints.map((unique) => `${config.name}.${unique.name}`),
    ];
  });
  const [rows] = await database.pool.query<RowDataPacket[]>(
    `SELECT DISTINCT CONCAT(TABLE_NAME, '.', INDEX_NAME) AS name FROM information_schema.STATISTICS
		  WHERE TABLE_SCHEMA = ? AND INDEX_NAME <> 'PRIMARY'`,
    [database.name],
  );
  expect(rows.map((row) => row.name).sort()).toEqual(declared.sort());
});

test("behavior: foreign keys are named <table>_<column>_fk", async () => {
  const [rows] = await database.pool.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS tableName, CONSTRAINT_NAME AS name FROM information_schema.REFERENTIAL_CONSTRAINTS
		  WHERE CONSTRAINT_SCHEMA = ?`,
    [database.name],
  );
  expect(rows.length).toBe(8);
  for (const { tableName, name } of rows) expect(name).toMatch(new RegExp(`^${tableName}_[a-z0-9_]+_fk$`));
});

test("behavior: table-level checks are named <table>_<column>_ck", async () => {
  // MariaDB adds a column-level `json_valid` check, named after the column, to every JSON column; those are its own.
  const [rows] = await database.pool.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS tableName, CONSTRAINT_NAME AS name FROM information_schema.CHECK_CONSTRAINTS
		  WHERE CONSTRAINT_SCHEMA = ? AND LEVEL = 'Table'`,
    [database.name],
  );
  expect(rows.length).toBeGreaterThan(30);
  for (const { tableName, name } of rows) expect(name).toMatch(new RegExp(`^${tableName}_[a-z0-9_]+_ck$`));
});

test("behavior: every schema table exists, and nothing else but drizzle's migration log", async () => {
  const [rows] = await database.pool.query<RowDataPacket[]>(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
    [database.name],
  );
  const expected = [...tables.map((table) => getTableConfig(table).name), "__drizzle_migrations"];
  expect(rows.map((row) => row.name).sort()).toEqual(expected.sort());
});
