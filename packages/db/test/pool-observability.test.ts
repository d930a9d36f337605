import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createDb, type DbHandle, type SlowQuery } from "../src/client.ts";
import { isConnectionError, isStatementTimeoutError } from "../src/errors.ts";
import { users } from "../src/schema/index.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

let database: TestDatabase;
let handle: DbHandle;
const slow: SlowQuery[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  handle = createDb(database.url, { poolSize: 2, slowQueryMs: 150, onSlowQuery: (query) => slow.push(query) });
}, 60_000);

afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

test("behavior: a statement over the threshold is reported with its SQL and time, never its values", async () => {
  slow.length = 0;
  await handle.db.execute(sql`SELECT SLEEP(0.3), ${"secret-value"} AS v`);
  await handle.db.select().from(users).limit(1);

  expect(slow).toHaveLength(1);
  expect(slow[0]?.sql).toMatch(/^select SLEEP\(0\.3\), \? AS v$/i);
  expect(slow[0]?.sql).not.toContain("secret-value");
  expect(slow[0]?.ms).toBeGreaterThanOrEqual(250);
});

test("behavior: statements inside a transaction (its own connection) and raw pool queries are timed too", async () => {
  slow.length = 0;
  await handle.db.transaction(async (tx) => {
    await tx.execute(sql`SELECT SLEEP(0.2)`);
  });
  await handle.pool.query("SELECT SLEEP(0.2)");

  expect(slow.map((query) => query.sql)).toEqual(["SELECT SLEEP(0.2)", "SELECT SLEEP(0.2)"]);
});

test("behavior: poolStats counts connections in use and callers that waited for one", async () => {
  expect(handle.poolStats()).toMatchObject({ max: 2, inUse: 0 });
  const first = await handle.pool.getConnection();
  const second = await handle.pool.getConnection();
  expect(handle.poolStats().inUse).toBe(2);

  const waitsBefore = handle.poolStats().waits;
  const third = handle.pool.getConnection(); // the pool is full: this one waits
  await expect.poll(() => handle.poolStats().waits).toBe(waitsBefore + 1);
  first.release();
  (await third).release();
  second.release();
  expect(handle.poolStats().inUse).toBe(0);
});

test("error: with a statement timeout, a caller waits for a pooled connection no longer than the timeout", async () => {
  const bounded = createDb(database.url, { poolSize: 1, statementTimeoutMs: 300 });
  try {
    const held = await bounded.pool.getConnection();
    const started = performance.now();
    const waited = await bounded.db.execute(sql`SELECT 1`).catch((error: unknown) => error);
    const ms = performance.now() - started;
    expect(isConnectionError(waited), String(waited)).toBe(true);
    expect(String((waited as Error).cause ?? waited)).toMatch(/no MySQL connection was free within 300 ms/);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2_000);

    // The connection the caller gave up on goes back to the pool when it frees up, ready for the next one.
    held.release();
    await expect.poll(() => bounded.poolStats().inUse).toBe(0);
    const [rows] = await bounded.pool.query("SELECT 2 AS two");
    expect(rows).toEqual([{ two: 2 }]);
    expect(bounded.poolStats().inUse).toBe(0);
  } finally {
    await bounded.close();
  }
});

test("error: with a statement timeout, the server stops a statement that runs past it, and the connection stays", async () => {
  const bounded = createDb(database.url, { poolSize: 1, statementTimeoutMs: 400 });
  const connectionId = async () => {
    const [rows] =
      await bounded.pool.query<Array<{ id: number } & import("mysql2").RowDataPacket>>("SELECT CONNECTION_ID() AS id");
    return rows[0]?.id;
  };
  try {
    const before = await connectionId();
    const started = performance.now();
    const stopped = await bounded.pool.query("SELECT SLEEP(5) AS slept").catch((error: unknown) => error);
    const ms = performance.now() - started;
    expect(isStatementTimeoutError(stopped), String(stopped)).toBe(true);
    expect(isConnectionError(stopped)).toBe(false);
    // The server's deadline, well before the client's own (one second later), which would have ended the connection.
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(1_300);
    expect(await connectionId()).toBe(before);

    // Through drizzle too, and the server is no longer running the statement it stopped.
    const viaDrizzle = await bounded.db.execute(sql`SELECT SLEEP(5)`).catch((error: unknown) => error);
    expect(isStatementTimeoutError(viaDrizzle), String(viaDrizzle)).toBe(true);
    const [running] = await handle.pool.query<Array<import("mysql2").RowDataPacket>>(
      "SELECT id FROM information_schema.PROCESSLIST WHERE id = ? AND info LIKE 'SELECT SLEEP%'",
      [before],
    );
    expect(running).toEqual([]);
  } finally {
    await bounded.close();
  }
});

test("error: a server that refuses the statement limit (a proxy reporting another version) keeps the client's deadline", async () => {
  const bounded = createDb(database.url, { poolSize: 1, statementTimeoutMs: 400 });
  // ProxySQL in front of MariaDB reports a MySQL version: the limit then named (MySQL's) does not exist here.
  bounded.pool.pool.prependListener("connection", (connection) => {
    (connection as unknown as { _handshakePacket: { serverVersion: string } })._handshakePacket.serverVersion =
      "8.0.11";
  });
  try {
    const [rows] = await bounded.pool.query("SELECT @@time_zone AS zone, @@max_statement_time AS limited");
    expect(rows).toEqual([{ zone: "+00:00", limited: 0 }]);
    const started = performance.now();
    const abandoned = await bounded.pool.query("SELECT SLEEP(5)").catch((error: unknown) => error);
    const ms = performance.now() - started;
    expect(isConnectionError(abandoned), String(abandoned)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(1_300);
  } finally {
    await bounded.close();
  }
});

test("behavior: by default a failed statement's error names the code that sent it; with traceCallers off it still names the statement", async () => {
  const untraced = createDb(database.url, { poolSize: 1, traceCallers: false });
  try {
    async function sendBadStatement(db: DbHandle["db"]) {
      return db.execute(sql`SELECT no_such_column FROM users`);
    }
    const traced = await sendBadStatement(handle.db).catch((error: Error) => error);
    const bare = await sendBadStatement(untraced.db).catch((error: Error) => error);
    for (const error of [traced, bare]) {
      expect(error).toBeInstanceOf(Error);
      expect(String((error as Error).message)).toContain("SELECT no_such_column FROM users");
    }
    const stackOf = (error: unknown) => String((error as { cause?: Error }).cause?.stack ?? "");
    expect(stackOf(traced)).toContain("sendBadStatement");
    expect(stackOf(bare)).not.toContain("sendBadStatement");
  } finally {
    await untraced.close();
  }
});
