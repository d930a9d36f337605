import { randomBytes } from "node:crypto";
import { loadConfig } from "@certchain/common";
import type { Connection, RowDataPacket } from "mysql2/promise";
import { createDb, type DbHandle } from "./client.ts";
import { toDatabaseError } from "./errors.ts";
import { connectToServer, migrateDatabase } from "./migrate.ts";
import { parseDatabaseUrl, withDatabase } from "./url.ts";

/**
 * Test databases: every test file (or worker) gets its own freshly migrated database, so tests never see each
 * other's rows and can run in parallel. Names are `<prefix>_<pid>_<random>`; `drop()` removes the database.
 */

export const TEST_DATABASE_PREFIX = "certchain_test";

const PREFIX_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

export type TestDatabase = DbHandle & {
  /** The database's name, e.g. `certchain_test_4242_9f3a1c0b`. */
  name: string;
  /** A DATABASE_URL for it, to hand to code under test or to child processes. */
  url: string;
  /** Closes the pool and drops the database; later calls do nothing. */
  drop(): Promise<void>;
};

export type CreateTestDatabaseOptions = {
  /** Name prefix (lowercase letters, digits, `_`); default `certchain_test`. */
  prefix?: string;
  /** Any URL of the server to use (its database name is ignored); default `loadConfig().databaseUrl`. */
  serverUrl?: string;
  /** Pool size of the returned handle; default 4. */
  poolSize?: number;
};

/** Creates and migrates a uniquely named database and returns a handle to it. Call `drop()` in `afterAll`. */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const prefix = options.prefix ?? TEST_DATABASE_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new Error(`test database prefix "${prefix}" must be 1-31 lowercase letters, digits or "_"`);
  }
  const serverUrl = options.serverUrl ?? loadConfig().databaseUrl;
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
  const url = withDatabase(serverUrl, name);
  await migrateDatabase(url);
  const handle = createDb(url, { poolSize: options.poolSize ?? 4 });
  let dropping: Promise<void> | undefined;
  return {
    ...handle,
    name,
    url,
    drop: () => {
      dropping ??= (async () => {
        await handle.close();
        await withServer(url, (connection) => connection.query(`DROP DATABASE IF EXISTS \`${name}\``));
      })();
      return dropping;
    },
  };
}

/**
 * Drops test databases left behind by test processes that died before `drop()` (a crash, `kill -9`): those whose name
 * has the prefix and whose pid is no longer running on this machine. Only for a server used by this machine's tests.
 * Returns the names dropped.
 */
export async function dropStaleTestDatabases(options: { prefix?: string; serverUrl?: string } = {}): Promise<string[]> {
  const prefix = options.prefix ?? TEST_DATABASE_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`test database prefix "${prefix}" is not valid`);
  const serverUrl = options.serverUrl ?? loadConfig().databaseUrl;
  const namePattern = new RegExp(`^${prefix}_(\\d+)_[0-9a-f]{8}$`);
  return withServer(serverUrl, async (connection) => {
    const [rows] = await connection.query<RowDataPacket[]>(
      "SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA",
    );
    const dropped: string[] = [];
    for (const { name } of rows as Array<{ name: string }>) {
      const pid = namePattern.exec(name)?.[1];
      if (pid === undefined || isRunning(Number(pid))) continue;
      await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      dropped.push(name);
    }
    return dropped;
  });
}

async function withServer<T>(databaseUrl: string, use: (connection: Connection) => Promise<T>): Promise<T> {
  let connection: Connection | undefined;
  try {
    connection = await connectToServer(parseDatabaseUrl(databaseUrl));
    return await use(connection);
  } catch (error) {
    throw toDatabaseError(error, databaseUrl);
  } finally {
    await connection?.end().catch(() => undefined);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
