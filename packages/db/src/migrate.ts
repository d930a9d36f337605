import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/mysql2";
import { migrate } from "drizzle-orm/mysql2/migrator";
import { type Connection, createConnection, type RowDataPacket } from "mysql2/promise";
import { toDatabaseError } from "./errors.ts";
import { SESSION_SETUP_SQL } from "./session-setup.ts";
import { connectionOptions, type DatabaseTarget, parseDatabaseUrl, requireDatabaseName } from "./url.ts";

/** The committed SQL migrations, found relative to this file so any working directory works. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../migrations", import.meta.url));

/** drizzle's bookkeeping table (its default name), one row per applied migration. */
const MIGRATIONS_TABLE = "__drizzle_migrations";

/** How long a second `migrateDatabase` on the same database waits for the first to finish. */
const MIGRATION_LOCK_TIMEOUT_SECONDS = 120;

export type MigrationResult = {
  /** The database migrated. */
  database: string;
  /** `host:port`, for messages (no credentials). */
  server: string;
  /** True when this call created the database. */
  created: boolean;
  /** Migrations applied by this call (0 when it was already up to date). */
  applied: number;
  /** Migrations recorded in the database afterwards. */
  total: number;
};

/**
 * Brings the database named in `databaseUrl` up to the committed schema: creates it if it does not exist (utf8mb4,
 * case-insensitive Unicode collation), then applies the migrations it has not seen. Safe to run any number of times,
 * also concurrently: a server-side named lock makes a second run wait for the first, then find nothing to do.
 *
 * Connection and permission problems throw a one-line `UserFacingError` (see `describeMysqlError`).
 *
 * MySQL commits DDL implicitly, so a migration that fails half-way is not rolled back: fix the cause and, for a
 * development database, drop and re-create it; keep each migration small so this stays rare.
 */
export async function migrateDatabase(
  databaseUrl: string,
  options: { migrationsFolder?: string } = {},
): Promise<MigrationResult> {
  const target = parseDatabaseUrl(databaseUrl);
  const database = requireDatabaseName(target);
  let connection: Connection | undefined;
  try {
    connection = await connectToServer(target);
    const created = await createDatabaseIfMissing(connection, database);
    await connection.query(`USE \`${database}\``);
    const lockName = migrationLockName(database);
    const [lockRows] = await connection.query<RowDataPacket[]>("SELECT GET_LOCK(?, ?) AS acquired", [
      lockName,
      MIGRATION_LOCK_TIMEOUT_SECONDS,
    ]);
    if (lockRows[0]?.acquired !== 1) {
      throw new Error(
        `timed out after ${MIGRATION_LOCK_TIMEOUT_SECONDS}s waiting for another migration of ${database}`,
      );
    }
    try {
      const before = await countAppliedMigrations(connection);
      await migrate(drizzle(connection), {
        migrationsFolder: options.migrationsFolder ?? MIGRATIONS_FOLDER,
        migrationsTable: MIGRATIONS_TABLE,
      });
      const total = await countAppliedMigrations(connection);
      return { database, server: target.display, created, applied: total - before, total };
    } finally {
      await connection.query("SELECT RELEASE_LOCK(?)", [lockName]);
    }
  } catch (error) {
    throw toDatabaseError(error, databaseUrl);
  } finally {
    await connection?.end().catch(() => undefined);
  }
}

/** A connection to the server with no database selected, in a UTC, strict session. */
export async function connectToServer(target: DatabaseTarget): Promise<Connection> {
  const connection = await createConnection({
    ...connectionOptions(target, false),
    connectTimeout: 10_000,
    timezone: "Z",
    supportBigNumbers: true,
    multipleStatements: false,
  });
  await connection.query(SESSION_SETUP_SQL);
  return connection;
}

async function createDatabaseIfMissing(connection: Connection, database: string): Promise<boolean> {
  const [existing] = await connection.query<RowDataPacket[]>(
    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    [database],
  );
  if (existing.length > 0) return false;
  // The name was checked against DATABASE_NAME_PATTERN, so quoting it with backticks is enough.
  await connection.query(
    `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
  );
  return true;
}

async function countAppliedMigrations(connection: Connection): Promise<number> {
  const [rows] = await connection.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    [MIGRATIONS_TABLE],
  );
  if (Number(rows[0]?.n ?? 0) === 0) return 0;
  const [counted] = await connection.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${MIGRATIONS_TABLE}\``);
  return Number(counted[0]?.n ?? 0);
}

/** GET_LOCK names are limited to 64 characters on MySQL; a digest of the database name always fits. */
function migrationLockName(database: string): string {
  return `certchain_migrate_${createHash("sha256").update(database).digest("hex").slice(0, 40)}`;
}
