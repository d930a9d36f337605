import type { RowDataPacket } from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

/*
 * The seed document's three tables must exist with every seed column exactly as declared (MariaDB's
 * information_schema spelling: `bigint(20)`, `current_timestamp()`), whatever columns we added around them.
 */

type ColumnSpec = {
  type: string;
  nullable: "YES" | "NO";
  key: "" | "PRI" | "UNI" | "MUL";
  default: string | null;
  extra: string;
};

const id: ColumnSpec = { type: "bigint(20)", nullable: "NO", key: "PRI", default: null, extra: "auto_increment" };
const createdAt: ColumnSpec = {
  type: "timestamp",
  nullable: "YES",
  key: "",
  default: "current_timestamp()",
  extra: "",
};
const updatedAt: ColumnSpec = {
  type: "timestamp",
  nullable: "YES",
  key: "",
  default: "current_timestamp()",
  extra: "on update current_timestamp()",
};
const col = (type: string, nullable: "YES" | "NO", key: ColumnSpec["key"] = ""): ColumnSpec => ({
  type,
  nullable,
  key,
  default: null,
  extra: "",
});

const seed: Record<string, Record<string, ColumnSpec>> = {
  users: {
    id,
    username: col("varchar(50)", "NO", "UNI"),
    password_hash: col("varchar(255)", "NO"),
    email: col("varchar(100)", "NO", "UNI"),
    // MUL: we index it (not UNIQUE, which the seed does not say).
    wallet_address: col("varchar(42)", "YES", "MUL"),
    created_at: createdAt,
    updated_at: updatedAt,
  },
  transactions: {
    id,
    tx_hash: col("varchar(66)", "NO", "UNI"),
    from_address: col("varchar(42)", "NO", "MUL"),
    to_address: col("varchar(42)", "NO", "MUL"),
    amount: col("decimal(65,0)", "YES"),
    token_id: col("bigint(20)", "YES"),
    status: col("enum('pending','completed','failed')", "NO"),
    created_at: createdAt,
  },
  certificates: {
    id,
    token_id: col("bigint(20)", "NO", "UNI"),
    owner_address: col("varchar(42)", "NO", "MUL"),
    // MUL: certificates_ipfs_hash_idx, for verification by document.
    ipfs_hash: col("varchar(255)", "NO", "MUL"),
    // MUL: first column of certificates_status_token_idx.
    status: col("enum('valid','invalid')", "NO", "MUL"),
    created_at: createdAt,
    updated_at: updatedAt,
  },
};

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await database?.drop();
});

async function columnsOf(table: string): Promise<Record<string, ColumnSpec>> {
  const [rows] = await database.pool.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_KEY AS \`key\`,
		        COLUMN_DEFAULT AS \`default\`, EXTRA AS extra
		   FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
    [database.name, table],
  );
  return Object.fromEntries(
    rows.map((row) => [
      row.name,
      {
        type: row.type,
        nullable: row.nullable,
        key: row.key,
        // MariaDB reports "no default" as NULL and a default of NULL as the string 'NULL'; the seed means neither.
        default: row.default === "NULL" ? null : row.default,
        extra: row.extra,
      },
    ]),
  );
}

describe.each(Object.entries(seed))("seed table %s", (table, expected) => {
  test("has every seed column with its exact type, nullability, key, default and extra", async () => {
    const actual = await columnsOf(table);
    for (const [column, spec] of Object.entries(expected)) {
      expect({ column, ...actual[column] }).toEqual({ column, ...spec });
    }
  });
});

test("behavior: the seed tables and the database use utf8mb4", async () => {
  const [rows] = await database.pool.query<RowDataPacket[]>(
    `SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation
		   FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`,
    [database.name],
  );
  expect(rows[0]).toEqual({ charset: "utf8mb4", collation: "utf8mb4_unicode_ci" });
  const [tables] = await database.pool.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS name, TABLE_COLLATION AS collation, ENGINE AS engine FROM information_schema.TABLES
		  WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ('users', 'transactions', 'certificates') ORDER BY TABLE_NAME`,
    [database.name],
  );
  expect(tables).toEqual([
    { name: "certificates", collation: "utf8mb4_unicode_ci", engine: "InnoDB" },
    { name: "transactions", collation: "utf8mb4_unicode_ci", engine: "InnoDB" },
    { name: "users", collation: "utf8mb4_unicode_ci", engine: "InnoDB" },
  ]);
});
