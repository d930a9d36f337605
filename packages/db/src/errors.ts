import { systemErrorCode, UserFacingError } from "@certchain/common";
import { type DatabaseTarget, parseDatabaseUrl } from "./url.ts";

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "::1"]);

const START_LOCAL_MARIADB = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd";

/** mysql2 puts the server's own message here (e.g. "Table 'certchain.users' doesn't exist"). */
const sqlMessage = (error: unknown): string | undefined => {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const message = (e as { sqlMessage?: unknown }).sqlMessage;
    if (typeof message === "string") return message;
  }
  return undefined;
};

/**
 * Says in one line what a MySQL connection or setup error means for the person running the command, and how to fix
 * it: server down, wrong host, bad credentials, missing database or tables. Returns `undefined` for errors that are not
 * about reaching or preparing the database (a failed query is the caller's business). Never includes the password.
 */
export function describeMysqlError(error: unknown, databaseUrl: string): string | undefined {
  let target: DatabaseTarget;
  try {
    target = parseDatabaseUrl(databaseUrl);
  } catch (urlError) {
    return urlError instanceof Error ? urlError.message : undefined;
  }
  const at = `MySQL at ${target.display} (DATABASE_URL)`;
  const code = systemErrorCode(error);
  switch (code) {
    case "ECONNREFUSED": {
      const fix = LOCAL_HOSTS.has(target.host)
        ? `start MariaDB (${START_LOCAL_MARIADB}) or set DATABASE_URL`
        : "check that the server is running, or set DATABASE_URL";
      return `cannot reach ${at}: connection refused — ${fix}`;
    }
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot reach ${at}: unknown host "${target.host}" — check the host in DATABASE_URL`;
    case "ETIMEDOUT":
    case "ECONNABORTED":
      return `cannot reach ${at}: timed out — check that the server is up and reachable from here`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `cannot reach ${at}: no route to host — check the host in DATABASE_URL and the network`;
    case "ECONNRESET":
    case "EPIPE":
    case "PROTOCOL_CONNECTION_LOST":
      return `lost the connection to ${at} — check that the server is running and not restarting`;
    case "HANDSHAKE_NO_SSL_SUPPORT":
    case "HANDSHAKE_SSL_ERROR":
      return `cannot open a TLS connection to ${at} — check the ssl parameter of DATABASE_URL`;
    case "ER_ACCESS_DENIED_ERROR":
    case "ER_ACCESS_DENIED_NO_PASSWORD_ERROR":
      return `${at} refused user "${target.user}": access denied — check the user and password in DATABASE_URL`;
    case "ER_HOST_NOT_PRIVILEGED":
      return `${at} does not accept connections for user "${target.user}" from this host — grant access or set DATABASE_URL`;
    case "ER_DBACCESS_DENIED_ERROR":
    case "ER_TABLEACCESS_DENIED_ERROR":
    case "ER_SPECIFIC_ACCESS_DENIED_ERROR":
      return `${at}: user "${target.user}" lacks a privilege (${sqlMessage(error) ?? code}) — grant it or set DATABASE_URL`;
    case "ER_BAD_DB_ERROR":
      return `${at} has no database "${target.database}" — run \`npm run db:migrate\` to create it`;
    case "ER_NO_SUCH_TABLE":
      return `database "${target.database}" on ${at} is not migrated (${sqlMessage(error) ?? "missing table"}) — run \`npm run db:migrate\``;
    case "ER_CON_COUNT_ERROR":
    case "ER_TOO_MANY_USER_CONNECTIONS":
      return `${at} has too many connections — lower the pool sizes or raise max_connections`;
    default:
      return undefined;
  }
}

/**
 * `describeMysqlError` as an error to throw: a `UserFacingError` (printed as one line by `runMain`, with the original
 * error as `cause` for debugging) when the error is a known connection or setup problem, else the error unchanged.
 */
export function toDatabaseError(error: unknown, databaseUrl: string): unknown {
  if (error instanceof UserFacingError) return error;
  const message = describeMysqlError(error, databaseUrl);
  return message === undefined ? error : new UserFacingError(message, { cause: error });
}

/**
 * True when the error, anywhere in its cause chain, is about the connection rather than a statement: refused, reset,
 * lost, timed out, too many connections, a failed handshake. mysql2 marks exactly these `fatal` (the connection cannot
 * be used again). The server may come back (a restart, a failover), so callers retry or answer 503 rather than treat
 * it as a bug; the pool opens new connections once it answers.
 */
export function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { fatal?: unknown }).fatal === true) return true;
  }
  return false;
}

/** True for the MySQL error of a UNIQUE key violation (ER_DUP_ENTRY), wherever it sits in the cause chain. */
export function isDuplicateKeyError(error: unknown, keyName?: string): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === "ER_DUP_ENTRY") {
      // MariaDB and MySQL 8 name the key at the end: "… for key 'users_email_uq'" (MySQL: 'users.users_email_uq').
      if (keyName === undefined) return true;
      const escaped = keyName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return new RegExp(`['.]${escaped}'$`).test(e.message);
    }
  }
  return false;
}

/** MariaDB's ER_STATEMENT_TIMEOUT and MySQL's ER_QUERY_TIMEOUT: the server stopped a statement at its time limit. */
const STATEMENT_TIMEOUT_ERRNOS = new Set([1969, 3024]);

/**
 * True when the server stopped a statement that ran past the session's time limit (`statementTimeoutMs` of
 * `createDb`), wherever the error sits in the cause chain. The connection is still usable; the database is too busy
 * (or the statement too slow) to answer in time, which callers treat as the database being unavailable for now.
 */
export function isStatementTimeoutError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (STATEMENT_TIMEOUT_ERRNOS.has((e as { errno?: unknown }).errno as number)) return true;
  }
  return false;
}
