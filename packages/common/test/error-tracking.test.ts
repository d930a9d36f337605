import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";
import { flushErrorTracking } from "../src/error-tracking.ts";
import { type FakeSentry, startFakeSentry } from "../src/fake-sentry.ts";
import { createLogger } from "../src/logger.ts";
import { createShutdown } from "../src/shutdown.ts";
import { bundleEntryForTest } from "../src/testing.ts";

/**
 * Error tracking against a stand-in for Sentry's ingest (`startFakeSentry`): a local HTTP server reached through a DSN
 * such as `http://publickey@127.0.0.1:<port>/1`, exactly as a real Sentry would be.
 */

async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

let logDir: string;
beforeAll(async () => {
  logDir = await mkdtemp(join(tmpdir(), "certchain-error-tracking-"));
});
afterAll(async () => {
  await rm(logDir, { recursive: true, force: true });
});

const loggerFor = (sentryDsn: string | undefined, service: string) =>
  createLogger({ logLevel: "info", logDir, sentryDsn, sentryEnvironment: "test" }, service);

describe("configuration", () => {
  test("default: no DSN, and the environment follows NODE_ENV", () => {
    expect(loadConfig({})).toMatchObject({ sentryDsn: undefined, sentryEnvironment: "development" });
    expect(
      loadConfig({
        SENTRY_DSN: "",
        NODE_ENV: "production",
        MASTER_KEY: "1".repeat(64),
        OPERATOR_PRIVATE_KEY: `0x${"2".repeat(64)}`,
      }),
    ).toMatchObject({
      sentryDsn: undefined,
      sentryEnvironment: "production",
    });
  });

  test("behavior: SENTRY_DSN and SENTRY_ENVIRONMENT are read", () => {
    const config = loadConfig({ SENTRY_DSN: "https://abc123@o1.ingest.sentry.io/42", SENTRY_ENVIRONMENT: "staging" });
    expect(config).toMatchObject({ sentryDsn: "https://abc123@o1.ingest.sentry.io/42", sentryEnvironment: "staging" });
  });

  test("error: a malformed SENTRY_DSN is one line naming the variable, without its value", () => {
    for (const dsn of ["not a url", "https://o1.ingest.sentry.io/42", "ftp://key@host/1", "https://key@host/"]) {
      let error: unknown;
      try {
        loadConfig({ SENTRY_DSN: dsn });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/^Invalid configuration: SENTRY_DSN must be a Sentry DSN/);
      expect(message).not.toContain("\n");
      expect(message).not.toContain(dsn);
    }
  });

  test("error: a SENTRY_ENVIRONMENT with a slash is refused", () => {
    expect(() => loadConfig({ SENTRY_ENVIRONMENT: "prod/eu" })).toThrow(/SENTRY_ENVIRONMENT must be/);
  });
});

describe("reporting", () => {
  let sentry: FakeSentry;
  beforeAll(async () => {
    sentry = await startFakeSentry();
  });
  afterAll(async () => {
    await sentry.close();
  });

  test("default: an error logged with an Error arrives as an exception with its stack, service, message and request id", async () => {
    const logger = loggerFor(sentry.dsn, "tracked");
    const failure = new TypeError("Cannot read properties of undefined (reading 'id')");
    logger.error({ err: failure, reqId: "req-123", path: "certificates.get" }, "Procedure failed");
    await flushErrorTracking();

    const events = sentry.events();
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(sentry.envelopes[0]?.path).toMatch(/^\/api\/1\/envelope\/\?.*sentry_key=publickey/);
    expect(event).toMatchObject({
      level: "error",
      environment: "test",
      platform: "node",
      tags: { service: "tracked", log: "app", request_id: "req-123" },
      extra: { path: "certificates.get" },
      logentry: { message: "Procedure failed" },
    });
    const [exception] = event.exception.values;
    expect(exception).toMatchObject({ type: "TypeError", value: "Cannot read properties of undefined (reading 'id')" });
    const frames = exception.stacktrace.frames;
    expect(frames.length).toBeGreaterThan(0);
    // The frames come from the Error object itself: this test file is the innermost one (Sentry lists it last).
    expect(frames.at(-1)).toMatchObject({ filename: expect.stringContaining("error-tracking.test.ts"), in_app: true });
    expect(typeof frames.at(-1).lineno).toBe("number");

    // The log itself is unchanged.
    const logged = (await readFile(join(logDir, "tracked.log"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(logged).toEqual([expect.objectContaining({ msg: "Procedure failed", reqId: "req-123", level: 50 })]);
  });

  test("behavior: an error line without an Error is a message; fatal keeps its level; info and warn are not sent", async () => {
    const logger = loggerFor(sentry.dsn, "messages");
    const before = sentry.events().length;
    logger.info({ block: 1 }, "Indexed a block");
    logger.warn({ block: 2 }, "Failed a step; will retry");
    logger.error({ lease: "indexer", fencingToken: 7 }, "Lost the indexer lease");
    logger.child({ component: "worker" }).fatal({ err: "connection reset" }, "Worker stopped");
    await flushErrorTracking();

    const events = sentry.events().slice(before);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      level: "error",
      message: "Lost the indexer lease",
      tags: { service: "messages", log: "app" },
      extra: { lease: "indexer", fencingToken: 7 },
    });
    expect(events[0].exception).toBeUndefined();
    expect(events[1]).toMatchObject({
      level: "fatal",
      message: "Worker stopped",
      extra: { component: "worker", err: "connection reset" },
    });
  });

  test("behavior: an Error's cause is sent as a linked exception", async () => {
    const logger = loggerFor(sentry.dsn, "causes");
    const before = sentry.events().length;
    logger.error(new Error("Failed to store the block", { cause: new RangeError("offset out of range") }));
    await flushErrorTracking();

    const [event] = sentry.events().slice(before);
    const types = event.exception.values.map((value: { type: string }) => value.type);
    expect(types).toEqual(["RangeError", "Error"]);
  });

  test("error: fields the log redacts never reach Sentry, wherever they sit", async () => {
    const logger = loggerFor(sentry.dsn, "secrets");
    const start = sentry.envelopes.length;
    const failure = Object.assign(new Error("Login failed"), { privateKey: "0xprivate-key-in-error" });
    logger.error(
      {
        err: failure,
        password: "hunter2",
        user: { passwordHash: "$argon2id$secret-hash", token: "session-token-value" },
        request: { headers: { authorization: "Bearer bearer-secret", cookie: "certchain_session=cookie-secret" } },
        config: { masterKey: "master-key-secret" },
      },
      "Login failed",
    );
    logger.error({ password: "hunter2-again", headers: { authorization: "Bearer second-secret" } }, "No Error here");
    await flushErrorTracking();

    const envelopes = sentry.envelopes.slice(start);
    expect(envelopes.flatMap((e) => e.items.filter((item) => item.type === "event"))).toHaveLength(2);
    const received = envelopes.map((envelope) => envelope.raw).join("\n");
    for (const secret of [
      "hunter2",
      "secret-hash",
      "session-token-value",
      "bearer-secret",
      "cookie-secret",
      "master-key-secret",
      "0xprivate-key-in-error",
      "second-secret",
    ]) {
      expect(received).not.toContain(secret);
    }
    expect(received).toContain("[redacted]");
  });

  test("default: without a DSN nothing is sent, and other loggers' trackers are not used", async () => {
    const before = sentry.envelopes.length;
    loggerFor(undefined, "untracked").error({ err: new Error("not for Sentry") }, "Failed quietly");
    await flushErrorTracking();
    expect(sentry.envelopes.length).toBe(before);
  });
});

describe("shutting down", () => {
  let sentry: FakeSentry;
  beforeAll(async () => {
    sentry = await startFakeSentry();
  });
  afterAll(async () => {
    await sentry.close();
  });

  test("behavior: a shutdown returns only once the reports logged before it have arrived", async () => {
    const logger = loggerFor(sentry.dsn, "stopping");
    const shutdown = createShutdown();
    shutdown.add(() => logger.error({ err: new Error("Failed to close the pool") }, "Failed a cleanup step"));
    await shutdown.run("test");
    expect(sentry.events()).toEqual([
      expect.objectContaining({ tags: expect.objectContaining({ service: "stopping" }), level: "error" }),
    ]);
  });

  test("behavior: a command that dies on an unexpected error reports it, stack and all, before exiting", async () => {
    const before = sentry.events().length;
    // Bundled and run under plain node, as the daemon tests do: tsx's loader costs seconds on a busy machine.
    const entry = await bundleEntryForTest("packages/common/test/fixtures/crashing-main.ts");
    const result = await promisify(execFile)(process.execPath, [entry], {
      env: { ...process.env, SENTRY_DSN: sentry.dsn, NODE_ENV: "test", LOG_DIR: logDir },
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("crasher: unexpected error: Lost the chain for good");

    const [event] = sentry.events().slice(before);
    expect(event).toMatchObject({
      level: "fatal",
      environment: "test",
      tags: { service: "crasher" },
      logentry: { message: "Exited on an unexpected error" },
    });
    const [exception] = event.exception.values;
    expect(exception).toMatchObject({ type: "Error", value: "Lost the chain for good" });
    expect(exception.stacktrace.frames.at(-1)).toMatchObject({
      filename: expect.any(String),
      lineno: expect.any(Number),
    });
  });
});

describe("a Sentry that cannot be reached", () => {
  test("error: a refused connection neither throws nor holds up the flush", async () => {
    const logger = loggerFor("http://publickey@127.0.0.1:1/1", "refused");
    expect(() => logger.error({ err: new Error("goes nowhere") }, "Failed")).not.toThrow();
    const started = Date.now();
    await flushErrorTracking(1_000);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  test("error: a Sentry that never answers is given up on after the flush timeout", async () => {
    let received = 0;
    let abandoned = 0;
    const silent = createServer((request) => {
      // Reads the request and never answers.
      received++;
      request.resume();
      request.socket.once("close", () => abandoned++);
    });
    const port = await listen(silent);
    try {
      const logger = loggerFor(`http://publickey@127.0.0.1:${port}/1`, "silent");
      logger.error({ err: new Error("waits forever") }, "Failed");
      const started = Date.now();
      await flushErrorTracking(300);
      expect(Date.now() - started).toBeLessThan(2_000);
      // The abandoned request is aborted, not left holding the process open.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received).toBe(1);
      expect(abandoned).toBe(1);
    } finally {
      await closeServer(silent);
    }
  });
});
