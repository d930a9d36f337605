import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@certchain/common";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createApp } from "../src/app.ts";
import { bearer, createTestApi, type TestApi } from "./helpers.ts";

/**
 * Logs as an operator reads them: with LOG_DIR set, one file per channel; an access line per request with its id,
 * route, status, duration and user; errors with their stack in the error file, the request id in the answer; and no
 * secret anywhere.
 */
let api: TestApi;
let logDir: string;

beforeAll(async () => {
  api = await createTestApi();
  logDir = await mkdtemp(join(tmpdir(), "certchain-logs-"));
});
afterAll(async () => {
  await api.close();
  await rm(logDir, { recursive: true, force: true });
});

const lines = async (file: string) =>
  (await readFile(join(logDir, file), "utf8"))
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));

/** Pino writes asynchronously; give the files a moment. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

test("default: each request gets one access line with its id, route, status, time and user, and no secrets", async () => {
  const config = { ...api.deps.config, logLevel: "info" as const, logDir };
  const app = createApp({ ...api.deps, accessLogger: createLogger(config, "api", "access") });
  const registered = await api.mutation("auth.register", {
    username: "logged_user",
    email: "logged@example.org",
    password: "long enough pw",
  });
  const { token, user } = registered.body.result.data;
  const profile = await app.request("/trpc/auth.profile", { headers: bearer(token) });
  const missing = await app.request("/api/certificates/77?secret=should-not-appear");
  await settle();

  const access = await lines("api.access.log");
  expect(access).toHaveLength(2);
  expect(access[0]).toMatchObject({
    service: "api",
    log: "access",
    reqId: profile.headers.get("x-request-id"),
    method: "GET",
    route: "trpc:auth.profile",
    status: 200,
    userId: user.id,
  });
  expect(typeof access[0].ms).toBe("number");
  expect(access[1]).toMatchObject({ route: "/api/certificates/:id", status: 404, userId: null });
  expect(missing.headers.get("x-request-id")).toBe(access[1].reqId);
  const raw = await readFile(join(logDir, "api.access.log"), "utf8");
  expect(raw).not.toContain(token);
  expect(raw).not.toContain("should-not-appear");
});

test("behavior: errors go to the error file with their stack; the client gets only the request id", async () => {
  const config = { ...api.deps.config, logLevel: "info" as const, logDir };
  const logger = createLogger(config, "api-errors");
  // A database that fails the way an unreachable server does, with its address in the message.
  // The certificate is read through the pool (apps/api/src/queries.ts): it fails when the statement runs.
  const execute = () => Promise.reject(new Error("connect ECONNREFUSED secret-db-host:3306"));
  const broken = createApp({ ...api.deps, logger, db: { ...api.deps.db, $client: { execute } } as never });
  const response = await broken.request("/trpc/certificates.get?input=%7B%22tokenId%22%3A1%7D");
  expect(response.status).toBe(500);
  const body = await response.text();
  const reqId = response.headers.get("x-request-id");
  expect(body).toContain(`Internal server error (request ${reqId})`);
  expect(body).not.toContain("secret-db-host");
  await settle();
  const errors = await lines("api-errors.error.log");
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ level: 50, reqId, path: "certificates.get", msg: "Procedure failed" });
  expect(errors[0].err.stack).toMatch(/ECONNREFUSED/);
  // Everything, errors included, is also in the main file.
  expect((await lines("api-errors.log")).some((line) => line.reqId === reqId)).toBe(true);
});

test("behavior: secrets are redacted wherever they sit in a logged object", async () => {
  const config = { ...api.deps.config, logLevel: "info" as const, logDir };
  const logger = createLogger(config, "redaction");
  logger.info(
    {
      password: "hunter2-password",
      user: { passwordHash: "$argon2id$hash", token: "session-token-value" },
      wallet: { privateKey: "0xprivate-key-value", encryptedKey: "ciphertext-value" },
      request: { headers: { authorization: "Bearer bearer-value", cookie: "certchain_session=cookie-value" } },
      config: { masterKey: "master-key-value" },
    },
    "everything secret",
  );
  await settle();
  const raw = await readFile(join(logDir, "redaction.log"), "utf8");
  for (const secret of [
    "hunter2-password",
    "$argon2id$hash",
    "session-token-value",
    "0xprivate-key-value",
    "ciphertext-value",
    "bearer-value",
    "cookie-value",
    "master-key-value",
  ]) {
    expect(raw).not.toContain(secret);
  }
  expect(raw).toContain("[redacted]");
});
