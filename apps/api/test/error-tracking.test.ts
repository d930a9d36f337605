import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flushErrorTracking } from "@certchain/common";
import { type FakeSentry, startFakeSentry } from "@certchain/common/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createApp } from "../src/app.ts";
import { createTestApi, type TestApi } from "./helpers.ts";

/**
 * The API with SENTRY_DSN set, against a stand-in for Sentry's ingest: a procedure that fails inside reaches Sentry as
 * an exception with its stack, tagged with the service and the request id the client was given.
 */
let sentry: FakeSentry;
let api: TestApi;
let logDir: string;

beforeAll(async () => {
  sentry = await startFakeSentry();
  logDir = await mkdtemp(join(tmpdir(), "certchain-api-sentry-"));
  api = await createTestApi({ SENTRY_DSN: sentry.dsn, SENTRY_ENVIRONMENT: "ci", LOG_LEVEL: "error", LOG_DIR: logDir });
});
afterAll(async () => {
  await api?.close();
  await sentry?.close();
  await rm(logDir, { recursive: true, force: true });
});

test("default: an internal failure of a procedure reaches Sentry with its stack and the request id", async () => {
  // A bug in a query path (not an outage, which would be a 503 and a warning).
  const bug = () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'tokenId')"));
  const broken = createApp({
    ...api.deps,
    // The certificate is read through the pool (apps/api/src/queries.ts): the bug strikes when the statement runs.
    db: { ...api.deps.db, $client: { execute: bug } } as never,
  });
  const response = await broken.request("/trpc/certificates.get?input=%7B%22tokenId%22%3A1%7D");
  expect(response.status).toBe(500);
  const reqId = response.headers.get("x-request-id");
  expect(reqId).toBeTruthy();
  await flushErrorTracking();

  const events = sentry.events();
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    level: "error",
    environment: "ci",
    tags: { service: "api", log: "app", request_id: reqId },
    logentry: { message: "Procedure failed" },
    extra: { path: "certificates.get" },
  });
  const [exception] = events[0].exception.values;
  expect(exception).toMatchObject({
    type: "TypeError",
    value: "Cannot read properties of undefined (reading 'tokenId')",
  });
  expect(exception.stacktrace.frames.length).toBeGreaterThan(0);
});

test("default: requests that succeed or fail on the client's side send nothing", async () => {
  const before = sentry.envelopes.length;
  expect((await api.app.request("/healthz")).status).toBe(200);
  expect((await api.app.request("/trpc/auth.profile")).status).toBe(401);
  await flushErrorTracking();
  expect(sentry.envelopes.length).toBe(before);
});
