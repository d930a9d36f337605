import { UserFacingError } from "@certchain/common";
import type { ConnectionOptions } from "mysql2";

/** What a `DATABASE_URL` names, with the password kept out of every description. */
export type DatabaseTarget = {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The database (schema) name; empty when the URL names none. */
  database: string;
  /** TLS settings from `?ssl=` (a JSON object or an ssl profile name), the only query parameter accepted. */
  ssl: ConnectionOptions["ssl"] | undefined;
  /** `host:port`, for messages. Never includes the user or password. */
  display: string;
};

const DEFAULT_PORT = 3306;

/**
 * A database name we are willing to create and put in DDL. MySQL allows more (any character, quoted), but names with
 * only letters, digits, `_` and `$` never need quoting tricks and cannot smuggle SQL into `CREATE DATABASE`.
 */
export const DATABASE_NAME_PATTERN = /^[A-Za-z0-9_$]{1,64}$/;

/** Parses a `mysql://` / `mariadb://` URL. Throws `UserFacingError` naming `DATABASE_URL` when it cannot be used. */
export function parseDatabaseUrl(databaseUrl: string): DatabaseTarget {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new UserFacingError("DATABASE_URL is not a URL (expected mysql://user:password@host:3306/database)");
  }
  if (url.protocol !== "mysql:" && url.protocol !== "mariadb:") {
    throw new UserFacingError(`DATABASE_URL must be a mysql:// URL, not ${url.protocol}//`);
  }
  let ssl: DatabaseTarget["ssl"];
  for (const [key, value] of url.searchParams) {
    if (key !== "ssl") {
      throw new UserFacingError(`DATABASE_URL has an unsupported parameter "${key}" (only "ssl" is accepted)`);
    }
    try {
      ssl = JSON.parse(value) as DatabaseTarget["ssl"];
    } catch {
      ssl = value;
    }
  }
  // `new URL` keeps the brackets of an IPv6 host; mysql2 wants the bare address.
  const host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, "$1") || "localhost";
  const port = url.port ? Number(url.port) : DEFAULT_PORT;
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  return {
    host,
    port,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    ssl,
    display: `${host.includes(":") ? `[${host}]` : host}:${port}`,
  };
}

/** The target's database name, checked against `DATABASE_NAME_PATTERN`. */
export function requireDatabaseName(target: DatabaseTarget): string {
  if (!target.database) {
    throw new UserFacingError("DATABASE_URL names no database (expected mysql://user@host:3306/certchain)");
  }
  if (!DATABASE_NAME_PATTERN.test(target.database)) {
    throw new UserFacingError(`DATABASE_URL names database "${target.database}"; use 1-64 letters, digits, "_" or "$"`);
  }
  return target.database;
}

/** The same URL pointing at another database on the same server (credentials and parameters kept). */
export function withDatabase(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** The URL with its password replaced by `***`, for logs. */
export function redactDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}

/** mysql2 connection options for the target, without choosing a database unless asked. */
export function connectionOptions(target: DatabaseTarget, withDatabaseName: boolean): ConnectionOptions {
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    ...(withDatabaseName && target.database ? { database: target.database } : {}),
    ...(target.ssl === undefined ? {} : { ssl: target.ssl }),
  };
}
