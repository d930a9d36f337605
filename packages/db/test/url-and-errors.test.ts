import { describe, expect, test } from "vitest";
import { DECIMAL65_MAX, fitsDecimal65 } from "../src/amounts.ts";
import { describeMysqlError, isDuplicateKeyError, toDatabaseError } from "../src/errors.ts";
import { parseDatabaseUrl, redactDatabaseUrl, withDatabase } from "../src/url.ts";

const url = "mysql://app:s3cret%21@db.example.com:3307/certchain";

const systemError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe("parseDatabaseUrl", () => {
  test("default", () => {
    expect(parseDatabaseUrl(url)).toEqual({
      host: "db.example.com",
      port: 3307,
      user: "app",
      password: "s3cret!",
      database: "certchain",
      ssl: undefined,
      display: "db.example.com:3307",
    });
  });

  test("behavior: default port, IPv6 host, mariadb scheme, ssl parameter", () => {
    const target = parseDatabaseUrl('mariadb://root@[::1]/x?ssl={"rejectUnauthorized":true}');
    expect(target).toMatchObject({ host: "::1", port: 3306, display: "[::1]:3306", ssl: { rejectUnauthorized: true } });
  });

  test("error: not a URL, another scheme, unknown parameters", () => {
    expect(() => parseDatabaseUrl("nonsense")).toThrow(/DATABASE_URL is not a URL/);
    expect(() => parseDatabaseUrl("postgres://x/y")).toThrow(/must be a mysql:\/\/ URL/);
    expect(() => parseDatabaseUrl("mysql://x/y?multipleStatements=true")).toThrow(
      /unsupported parameter "multipleStatements"/,
    );
  });

  test("behavior: withDatabase keeps credentials; redactDatabaseUrl hides the password", () => {
    expect(withDatabase(url, "other")).toBe("mysql://app:s3cret%21@db.example.com:3307/other");
    expect(redactDatabaseUrl(url)).toBe("mysql://app:***@db.example.com:3307/certchain");
  });
});

describe("describeMysqlError", () => {
  test("behavior: connection refused on a remote host suggests checking the server, not starting a local one", () => {
    expect(describeMysqlError(systemError("ECONNREFUSED"), url)).toBe(
      "cannot reach MySQL at db.example.com:3307 (DATABASE_URL): connection refused — check that the server is running, or set DATABASE_URL",
    );
  });

  test("behavior: finds the code inside wrapped and aggregate errors", () => {
    const aggregate = new AggregateError([systemError("ECONNREFUSED"), systemError("ECONNREFUSED")], "all failed");
    const wrapped = new Error("Failed query", { cause: aggregate });
    expect(describeMysqlError(wrapped, "mysql://root@localhost/certchain")).toMatch(
      /^cannot reach MySQL at localhost:3306 .* start MariaDB/,
    );
  });

  test("behavior: one line for each known problem, never the password", () => {
    for (const code of [
      "ENOTFOUND",
      "ETIMEDOUT",
      "EHOSTUNREACH",
      "PROTOCOL_CONNECTION_LOST",
      "ER_ACCESS_DENIED_ERROR",
      "ER_DBACCESS_DENIED_ERROR",
      "ER_BAD_DB_ERROR",
      "ER_NO_SUCH_TABLE",
      "ER_CON_COUNT_ERROR",
    ]) {
      const message = describeMysqlError(systemError(code), url);
      expect(message, code).toBeDefined();
      expect(message, code).not.toContain("s3cret");
      expect(message, code).not.toContain("\n");
    }
    expect(describeMysqlError(systemError("ER_BAD_DB_ERROR"), url)).toMatch(
      /no database "certchain" — run `npm run db:migrate`/,
    );
  });

  test("behavior: query errors are not connection problems", () => {
    expect(describeMysqlError(systemError("ER_PARSE_ERROR"), url)).toBeUndefined();
    expect(describeMysqlError(new Error("boom"), url)).toBeUndefined();
    const plain = new Error("boom");
    expect(toDatabaseError(plain, url)).toBe(plain);
    const known = toDatabaseError(systemError("ECONNREFUSED"), url) as Error;
    expect(known.name).toBe("UserFacingError");
    expect(known.cause).toBeInstanceOf(Error);
  });

  test("behavior: isDuplicateKeyError matches the key by name in MariaDB and MySQL spellings", () => {
    const dup = (message: string) => Object.assign(new Error(message), { code: "ER_DUP_ENTRY" });
    expect(isDuplicateKeyError(dup("Duplicate entry 'a' for key 'users_email_uq'"), "users_email_uq")).toBe(true);
    expect(isDuplicateKeyError(dup("Duplicate entry 'a' for key 'users.users_email_uq'"), "users_email_uq")).toBe(true);
    expect(isDuplicateKeyError(dup("Duplicate entry 'a' for key 'users_email_uq'"), "users_username_uq")).toBe(false);
    expect(isDuplicateKeyError(new Error("other"))).toBe(false);
  });
});

test("behavior: fitsDecimal65 bounds wei amounts to what DECIMAL(65,0) holds", () => {
  expect(fitsDecimal65(0n)).toBe(true);
  expect(fitsDecimal65(DECIMAL65_MAX)).toBe(true);
  expect(fitsDecimal65(DECIMAL65_MAX + 1n)).toBe(false);
  expect(fitsDecimal65(-1n)).toBe(false);
  expect(fitsDecimal65(2n ** 256n - 1n)).toBe(false);
});
