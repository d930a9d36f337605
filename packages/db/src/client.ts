import { drizzle, type MySql2Database } from "drizzle-orm/mysql2";
import type { PoolConnection as CoreConnection } from "mysql2";
import { createPool, type Pool, type PoolOptions } from "mysql2/promise";
import { toDatabaseError } from "./errors.ts";
import * as schema from "./schema/index.ts";
import { SESSION_SETUP_SQL } from "./session-setup.ts";
import { connectionOptions, parseDatabaseUrl, requireDatabaseName } from "./url.ts";

/**
 * The drizzle database, typed with the whole schema (`db.query.<table>` included, without `with`); `$client` is its
 * mysql2 pool.
 */
export type Db = MySql2Database<typeof schema> & { $client: Pool };

/** A transaction handle as passed to `db.transaction(async (tx) => …)`; accepts the same queries as `Db`. */
export type DbTransaction = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Either a `Db` or a `DbTransaction`, for functions that should work inside or outside a transaction. */
export type DbExecutor = Db | DbTransaction;

export type DbHandle = {
  /** Query builder (and `db.query.<table>` without `with`) over the pool. */
  db: Db;
  /** The underlying mysql2 pool, for raw SQL. DECIMALs come back as strings, BIGINTs as numbers up to 2^53. */
  pool: Pool;
  /** Ends every connection; later calls do nothing. */
  close(): Promise<void>;
  /** How the pool is used right now, for metrics. */
  poolStats(): PoolStats;
};

export type PoolStats = {
  /** The pool's size: most connections open at once. */
  max: number;
  /** Connections handed out and not yet released. */
  inUse: number;
  /** Times a caller had to wait because every connection was in use, since start. */
  waits: number;
};

export type SlowQuery = {
  /** The statement as sent, with placeholders: values are never included (they may be secrets). */
  sql: string;
  ms: number;
};

export type CreateDbOptions = {
  /** Most connections open at once (default 10). */
  poolSize?: number;
  /** Statements taking longer than this many milliseconds are reported to `onSlowQuery` (default: none). */
  slowQueryMs?: number;
  onSlowQuery?: (query: SlowQuery) => void;
  /**
   * Longest run of a statement, and longest wait for a free pooled connection and for a new connection's handshake
   * (default: none for statements and pooled connections, 10 s for handshakes).
   * - The server stops a statement that runs past it (MariaDB: any statement; MySQL: SELECTs) and answers with an
   *   error that `isStatementTimeoutError` recognises; the connection stays in use.
   * - A statement that gets no answer at all one second later ends its connection: the caller gets a connection
   *   error, as if the server were gone, and the pool opens a new connection. That is for a server that stops
   *   answering without closing its connections (frozen, a network path that drops packets), where nothing else
   *   would ever end the wait. On a connection whose server refused the limit (an older MySQL, a proxy that
   *   reports another server's version), and for MySQL's writes, this deadline at the timeout itself is the only one.
   * - A caller still waiting for a pooled connection after it gets the same connection error.
   */
  statementTimeoutMs?: number;
  /**
   * Whether a failed statement's error carries the stack of the code that sent it (mysql2's `trace`, default on). It
   * costs a stack capture on every statement: turned off, `certificates.get` used about a sixth less CPU per response
   * (docs/performance.md). The error still names its statement (drizzle's `DrizzleQueryError`), and a daemon's log
   * line names the request or job.
   */
  traceCallers?: boolean;
};

/** Longest statement text handed to `onSlowQuery`; a bulk insert's SQL can run to megabytes. */
const SLOW_QUERY_SQL_MAX_CHARS = 1_000;

const DEFAULT_POOL_SIZE = 10;

/**
 * Opens a connection pool to the database named in `databaseUrl` (connections are made lazily, on first query; see
 * `pingDatabase` to check reachability at start-up).
 *
 * Driver choices, made once here:
 * - `supportBigNumbers` without `bigNumberStrings`: BIGINT values come back as numbers while they are safe integers
 *   and as strings beyond 2^53, never silently rounded. drizzle's `mode: "number"` columns hold values that fit.
 * - DECIMAL as strings (`decimalNumbers: false`): wei amounts are exact; drizzle's `mode: "bigint"` turns them into
 *   `bigint`s.
 * - `timezone: "Z"` and a UTC session (see `SESSION_SETUP_SQL`): every time is UTC on the wire and in the database.
 *   `dateStrings` stays off, so raw queries give `Date`s (drizzle reads times as strings itself and converts).
 * - `jsonStrings`: JSON columns arrive as text on MySQL as on MariaDB (which stores JSON as LONGTEXT), and the
 *   schema's JSON column type parses them, so both servers behave alike.
 * - No `multipleStatements`: one statement per query, so an injected `;` cannot start a second one.
 * - No `resetOnRelease`: it would reset the session's time zone and SQL mode between uses.
 */
export function createDb(databaseUrl: string, options: CreateDbOptions = {}): DbHandle {
  const target = parseDatabaseUrl(databaseUrl);
  requireDatabaseName(target);
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  const poolOptions: PoolOptions = {
    ...connectionOptions(target, true),
    connectionLimit: poolSize,
    maxIdle: poolSize,
    idleTimeout: 60_000,
    waitForConnections: true,
    queueLimit: 0,
    connectTimeout: options.statementTimeoutMs ? Math.min(10_000, options.statementTimeoutMs) : 10_000,
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
    charset: "UTF8MB4_UNICODE_CI",
    timezone: "Z",
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: false,
    jsonStrings: true,
    multipleStatements: false,
    trace: options.traceCallers ?? true,
  };
  const pool = createPool(poolOptions);
  const { slowQueryMs, onSlowQuery, statementTimeoutMs } = options;
  const slow = slowQueryMs !== undefined && slowQueryMs > 0 && onSlowQuery ? { slowQueryMs, onSlowQuery } : undefined;
  pool.pool.on("connection", (connection) => {
    connection.query(SESSION_SETUP_SQL, (error) => {
      // A connection that is not in UTC would read and write wrong times: drop it rather than hand it out.
      if (error) connection.destroy();
    });
    let clientDeadlineMs = statementTimeoutMs;
    if (statementTimeoutMs) {
      // Best effort, on its own: a server without the setting (an older MySQL, a proxy reporting another server's
      // version) keeps only the client's deadline, at the timeout itself.
      connection.query(`SET SESSION ${serverStatementLimit(connection, statementTimeoutMs)}`, (error) => {
        if (!error) clientDeadlineMs = statementTimeoutMs + CLIENT_DEADLINE_GRACE_MS;
      });
    }
    if (slow || statementTimeoutMs) watchStatements(connection, { slow, statementTimeoutMs: () => clientDeadlineMs });
  });
  const stats = { inUse: 0, waits: 0 };
  pool.pool.on("acquire", () => stats.inUse++);
  pool.pool.on("release", () => stats.inUse--);
  pool.pool.on("enqueue", () => stats.waits++);
  if (statementTimeoutMs) limitConnectionWait(pool.pool, stats, statementTimeoutMs);

  // The schema declares no drizzle `relations()`, on purpose: relational queries with `with` cannot run on
  // MariaDB 10.11 in either drizzle mode ("default" emits LATERAL joins, which MariaDB lacks; "planetscale" emits
  // derived tables that refer to the outer query, which MariaDB refuses). `db.query.<table>.findFirst/findMany`
  // without `with` works; join with `db.select().from(a).innerJoin(b, …)`.
  const db = drizzle(pool, { schema, mode: "default" });

  let closing: Promise<void> | undefined;
  return {
    db,
    pool,
    close: () => {
      closing ??= pool.end();
      return closing;
    },
    poolStats: () => ({ max: poolSize, ...stats }),
  };
}

/**
 * With a statement timeout, the client's own deadline (for a server that cannot answer at all) comes this much after
 * the server's, so the two do not race: a statement that merely runs too long is stopped by the server, which answers
 * with an error and keeps the connection.
 */
const CLIENT_DEADLINE_GRACE_MS = 1_000;

/**
 * The session setting that makes the server stop a statement running past `timeoutMs` and answer with an error
 * (`isStatementTimeoutError`), so it stops spending work on an answer nobody waits for: MariaDB's
 * `max_statement_time` covers every statement, MySQL's `max_execution_time` only SELECTs. Which server it is comes
 * from the version in its handshake, as mysql2 itself tells them apart.
 */
function serverStatementLimit(connection: CoreConnection, timeoutMs: number): string {
  const handshake = (connection as unknown as { _handshakePacket?: { serverVersion?: unknown } })._handshakePacket;
  return /mariadb/i.test(String(handshake?.serverVersion ?? ""))
    ? `max_statement_time = ${timeoutMs / 1000}`
    : `max_execution_time = ${Math.ceil(timeoutMs)}`;
}

type Command = { once(event: "end", listener: () => void): unknown };

type ConnectionCallback = (error: Error | null, connection?: CoreConnection) => void;

/**
 * Bounds a caller's wait for a pooled connection by `timeoutMs`, which mysql2's pool cannot do. Without it, while a
 * hung server holds every connection, callers queue behind statements that each end only at their own deadline: a
 * request could wait several deadlines. A caller that gives up gets a connection error (`fatal`, so it reads as the
 * server being out of reach: a 503 in the API); the connection it was waiting for, when it comes, goes straight back
 * to the pool. Callers served at once (the usual case) get no timer: the pool tells with its "enqueue" event.
 */
function limitConnectionWait(
  pool: { getConnection(callback: ConnectionCallback): void },
  stats: { waits: number },
  timeoutMs: number,
): void {
  const acquire = pool.getConnection.bind(pool);
  pool.getConnection = (callback) => {
    let gaveUp = false;
    let timer: NodeJS.Timeout | undefined;
    const waitsBefore = stats.waits;
    acquire((error, connection) => {
      clearTimeout(timer);
      if (gaveUp) connection?.release();
      else callback(error, connection);
    });
    if (stats.waits === waitsBefore) return;
    timer = setTimeout(() => {
      gaveUp = true;
      const message = `no MySQL connection was free within ${timeoutMs} ms`;
      callback(Object.assign(new Error(message), { code: "ETIMEDOUT", fatal: true }));
    }, timeoutMs);
    timer.unref();
  };
}

/**
 * The statement as the caller wrote it, placeholders and all (a string, `{ sql }` options, or the pool's own Query
 * command, whose text is still the template until the connection interpolates the values into it).
 */
function statementText(first: unknown): string {
  if (typeof first === "string") return first;
  const sql = (first as { sql?: unknown } | undefined)?.sql;
  return typeof sql === "string" ? sql : "";
}

/**
 * Wraps one connection's `query` and `execute` (the two ways mysql2 sends a statement, whether through the pool,
 * a transaction's connection or drizzle) to time each statement from send to its last row, and to end the connection
 * when a statement goes unanswered for `statementTimeoutMs`.
 */
function watchStatements(
  connection: CoreConnection,
  options: {
    slow?: { slowQueryMs: number; onSlowQuery: (query: SlowQuery) => void };
    /** The client's deadline for a statement sent now (it depends on whether the server took its own limit). */
    statementTimeoutMs: () => number | undefined;
  },
): void {
  const { slow } = options;
  for (const method of ["query", "execute"] as const) {
    const send = connection[method] as (...args: unknown[]) => Command;
    (connection as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
      // Read before sending: `query` replaces the command's text with the values interpolated.
      const text = slow ? statementText(args[0]) : "";
      const started = performance.now();
      const command = send.apply(this, args);
      const timeoutMs = options.statementTimeoutMs();
      const deadline = timeoutMs ? setTimeout(() => abandon(connection, command, timeoutMs), timeoutMs) : undefined;
      deadline?.unref();
      command.once("end", () => {
        clearTimeout(deadline);
        const ms = performance.now() - started;
        if (slow && ms >= slow.slowQueryMs) {
          slow.onSlowQuery({ sql: text.slice(0, SLOW_QUERY_SQL_MAX_CHARS), ms: Math.round(ms) });
        }
      });
      return command;
    };
  }
}

/**
 * Ends a connection whose server stopped answering. Destroying the socket with an error is what mysql2 does on a
 * network failure: every statement waiting on the connection fails with it (a fatal error, so `isConnectionError`
 * and `describeMysqlError` treat it as the server being out of reach) and the pool drops the connection. A graceful
 * `end()` would wait for the silent server's reply.
 */
function abandon(connection: CoreConnection, command: Command, timeoutMs: number): void {
  const state = connection as unknown as {
    stream: { destroyed: boolean; destroy(error: Error): void };
    _command?: unknown;
    _commands?: { toArray(): unknown[] };
  };
  // Only for a statement still running or waiting on this connection: one that ended before its "end" listener was
  // attached (mysql2 can finish a cached prepared statement's failure synchronously) must not take a healthy
  // connection down, nor must the other statements' timers of a connection already destroyed.
  const waiting = state._command === command || (state._commands?.toArray() ?? []).includes(command);
  if (state.stream.destroyed || !waiting) return;
  const error = Object.assign(new Error(`MySQL did not answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" });
  state.stream.destroy(error);
}

/**
 * Runs `SELECT 1` and throws a one-line `UserFacingError` (see `describeMysqlError`) if the database cannot be reached.
 * For start-up checks and readiness probes.
 */
export async function pingDatabase(handle: Pick<DbHandle, "pool">, databaseUrl: string): Promise<void> {
  try {
    await handle.pool.query("SELECT 1");
  } catch (error) {
    throw toDatabaseError(error, databaseUrl);
  }
}
