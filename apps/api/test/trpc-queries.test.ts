import { signatureHeaders } from "@certchain/client";
import { freePort } from "@certchain/common/testing";
import { createDb, type DbHandle } from "@certchain/db";
import { Hono, type MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ApiDeps } from "../src/context.ts";
import { verifySignedRequests } from "../src/http/signatures.ts";
import { createTrpcHandlers } from "../src/http/trpc-handlers.ts";
import { certificateFixtures } from "./certificate-fixtures.ts";
import { createTestApi, signUp, type TestAccount, type TestApi } from "./helpers.ts";

/**
 * GET queries are answered by calling the procedures directly (`http/trpc-queries.ts`), everything else by tRPC's
 * fetch adapter. Clients must not be able to tell the two apart: each request here goes to an app with only the
 * adapter and to one with the direct path in front of it, and the answers must match byte for byte.
 */
let api: TestApi;
let user: TestAccount;
let tokenId: number;
/** Requests the adapter answered in the app with both paths. */
let passedOn = 0;
let adapterOnly: Hono;
let withDirect: Hono;
/** The same two apps over a database that refuses every connection, so resolving a session fails (503). */
let adapterOnlyDbDown: Hono;
let withDirectDbDown: Hono;
let unreachable: DbHandle;

/** An app with only the adapter, and one with the direct path in front of it (counting what it passes on). */
function apps(deps: ApiDeps, before: MiddlewareHandler[] = []): { adapterOnly: Hono; withDirect: Hono } {
  const { queries, adapter } = createTrpcHandlers(deps);
  const counted: MiddlewareHandler = (c, next) => {
    passedOn++;
    return adapter(c, next);
  };
  const app = () => before.reduce((hono, middleware) => hono.use("/trpc/*", middleware), new Hono());
  return {
    adapterOnly: app().use("/trpc/*", adapter),
    withDirect: app().use("/trpc/*", queries).use("/trpc/*", counted),
  };
}

/** A database nobody listens for: every statement fails with a refused connection, as when MariaDB is down. */
async function unreachableDb(): Promise<DbHandle> {
  return createDb(`mysql://root@127.0.0.1:${await freePort()}/certchain_unreachable`);
}

beforeAll(async () => {
  api = await createTestApi();
  user = await signUp(api, "direct_reader", "user");
  tokenId = await certificateFixtures(api).issueIndexed("bafkreidirectqueriescertificate");
  ({ adapterOnly, withDirect } = apps(api.deps));
  unreachable = await unreachableDb();
  ({ adapterOnly: adapterOnlyDbDown, withDirect: withDirectDbDown } = apps({ ...api.deps, db: unreachable.db }));
});
afterAll(async () => {
  await unreachable?.close();
  await api.close();
});

type Answer = { status: number; body: string; headers: Record<string, string | string[]> };

async function answer(app: Hono, path: string, headers: Record<string, string>, method = "GET"): Promise<Answer> {
  const response = await app.request(`http://localhost/trpc/${path}`, { headers, method });
  // Every header: one the direct path adds or drops must show up, not only the ones named here.
  const seen: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) if (name !== "set-cookie") seen[name] = value;
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) seen["set-cookie"] = cookies;
  return { status: response.status, body: await response.text(), headers: seen };
}

/** The answer's JSON body; only the direct path's answers are read this way (a streamed batch is JSON lines). */
const json = (got: Answer) => JSON.parse(got.body);

/** Sends `path` to both apps; returns the direct one's answer and whether it passed the request on to the adapter. */
async function compare(
  path: string,
  headers: Record<string, string> = {},
  options: { method?: string; dbDown?: boolean } = {},
) {
  const expected = await answer(options.dbDown ? adapterOnlyDbDown : adapterOnly, path, headers, options.method);
  const before = passedOn;
  const actual = await answer(options.dbDown ? withDirectDbDown : withDirect, path, headers, options.method);
  expect(actual, path).toEqual(expected);
  return { ...actual, passedOn: passedOn > before };
}

const input = (value: unknown) => encodeURIComponent(JSON.stringify(value));

describe("GET queries answered directly", () => {
  test("default: a query answers as the adapter does", async () => {
    const got = await compare(`certificates.get?input=${input({ tokenId })}`);
    expect(got).toMatchObject({ status: 200, passedOn: false });
    expect(json(got).result.data).toMatchObject({ tokenId, status: "valid" });
  });

  test("behavior: a batch, with one call failing, answers 207 with each call's result in order", async () => {
    const all = await compare(
      `certificates.get,certificates.list?batch=1&input=${input({ 0: { tokenId }, 1: { limit: 1 } })}`,
    );
    expect(all).toMatchObject({ status: 200, passedOn: false });
    expect(json(all)).toHaveLength(2);

    const mixed = await compare(
      `certificates.get,certificates.get?batch=1&input=${input({ 0: { tokenId }, 1: { tokenId: 999_999 } })}`,
    );
    expect(mixed).toMatchObject({ status: 207, passedOn: false });
    expect(json(mixed)[0].result.data.tokenId).toBe(tokenId);
    expect(json(mixed)[1].error.data).toMatchObject({ code: "NOT_FOUND", httpStatus: 404 });
  });

  test("behavior: a session's query, and an anonymous call to a signed-in procedure, answer alike", async () => {
    const profile = await compare("auth.profile", user.headers);
    expect(profile).toMatchObject({ status: 200, passedOn: false });
    expect(json(profile).result.data.username).toBe("direct_reader");
    expect(await compare("auth.profile")).toMatchObject({ status: 401, passedOn: false });
  });

  test("behavior: a cookie naming no session is cleared, as the adapter clears it", async () => {
    const got = await compare("auth.profile", { cookie: "certchain_session=not-a-live-session" });
    expect(got).toMatchObject({ status: 401, passedOn: false });
    expect(got.headers["set-cookie"]).toEqual([expect.stringMatching(/^certchain_session=;/)]);
  });

  test("error: refused input gives the adapter's 400, with field errors", async () => {
    for (const bad of [
      `certificates.get?input=${input({ tokenId: "1" })}`,
      `certificates.get?input=${input({ tokenId, extra: true })}`,
      "certificates.get",
      // `+` in a query string is a space, as URLSearchParams reads it.
      `certificates.list?input=${input({ owner: "0x" }).replace("0x", "0x+1")}`,
      `certificates.get?batch=1&input=${input({ 0: { tokenId: -1 } })}`,
    ]) {
      const got = await compare(bad);
      expect(got.passedOn, bad).toBe(false);
      expect(got.status, bad).toBe(400);
      expect(got.body, bad).toContain("BAD_REQUEST");
    }
    const missing = await compare(`certificates.get?input=${input({ tokenId: 999_999 })}`);
    expect(missing).toMatchObject({ status: 404, passedOn: false });
  });
});

describe("requests left to the adapter", () => {
  test("behavior: mutations, subscriptions, unknown procedures, streaming and malformed requests pass on", async () => {
    const passed = [
      "auth.logout",
      "certificates.nope",
      "certificates.get?input={not json",
      `certificates.get?batch=1&input=${input([{ tokenId }])}`,
      `${Array(11).fill("certificates.get").join(",")}?batch=1`,
      `certificates%2Eget?input=${input({ tokenId })}`,
    ];
    for (const path of passed) {
      const got = await answer(withDirect, path, {});
      expect(got, path).toEqual(await answer(adapterOnly, path, {}));
    }
    const before = passedOn;
    for (const path of passed) await answer(withDirect, path, {});

    // A subscription's answer is an event stream, which only the adapter writes.
    const subscription = await withDirect.request(
      `http://localhost/trpc/tx.onStatus?input=${input({ requestId: "00000000-0000-4000-8000-000000000000" })}`,
    );
    expect(subscription.headers.get("content-type")).toMatch(/^text\/event-stream/);
    await subscription.body?.cancel();
    expect(passedOn - before).toBe(passed.length + 1);

    const streaming = await compare(`certificates.get?batch=1&input=${input({ 0: { tokenId } })}`, {
      "trpc-accept": "application/jsonl",
    });
    expect(streaming.passedOn).toBe(true);
  });
});

describe("edge cases the adapter reads its own way", () => {
  test("behavior: query strings the WHATWG URL parser reads differently from URLSearchParams answer alike", async () => {
    const ok = input({ tokenId });
    for (const path of [
      // `new URL()` keeps the second `?` in the first name (`?input`); `new URLSearchParams("?…")` strips it.
      `certificates.get??input=${ok}`,
      // `#` starts a fragment for the adapter's `new URL()`; a raw request target keeps it in `c.req.url`.
      `certificates.get?x=#&input=${ok}`,
      `certificates.get#?input=${ok}`,
      `certificates.get,certificates.get?batch=1#&input=${input({ 0: { tokenId }, 1: { tokenId } })}`,
      // The adapter parses `connectionParams` on every request and refuses it whole when it is not JSON of strings.
      `certificates.get?input=${ok}&connectionParams=x`,
      `certificates.get?input=${ok}&connectionParams=${input({ a: 1 })}`,
      `certificates.get,certificates.get?batch=1&input=${input({ 0: { tokenId }, 1: { tokenId } })}&connectionParams=x`,
    ]) {
      await compare(path);
    }
  });

  test("behavior: repeated and empty parameters, batch flags and paths answer alike", async () => {
    const ok = input({ tokenId });
    for (const path of [
      `certificates.get?input=${ok}&input=x`,
      `certificates.get?input=x&input=${ok}`,
      `certificates.get?batch=true&input=${ok}`,
      `certificates.get?batch=1&batch=0&input=${input({ 0: { tokenId } })}`,
      "certificates.get?batch=1&input=",
      `certificates.get?batch=1&input=${input({ 0: null })}`,
      "certificates.get?batch=1&input=null",
      `certificates.get/?input=${ok}`,
      `/certificates.get?input=${ok}`,
      "constructor",
      "__proto__",
      `${Array(10).fill("certificates.get").join(",")}?batch=1&input=${input(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [i, { tokenId }])))}`,
    ]) {
      await compare(path);
    }
    // A procedure without input never reads it: input that is not JSON still answers 200 (passed on).
    expect(await compare("auth.profile?input={bad", user.headers)).toMatchObject({ status: 200 });
    expect(await compare(`certificates.get?input=${ok}`, {}, { method: "HEAD" })).toMatchObject({ status: 204 });
    for (const contentType of ["multipart/form-data", "application/octet-stream", "text/plain", "Application/JSON"]) {
      await compare(`certificates.get?input=${ok}`, { "content-type": contentType });
    }
    await compare(`certificates.get?input=${ok}`, { accept: "application/jsonl" });
    await compare(`certificates.get?input=${ok}`, { "trpc-accept": "application/json" });
  });

  test("error: a database that is down while resolving the session answers 503 with Retry-After, single or batched", async () => {
    const cookie = { cookie: `certchain_session=${user.token}` };
    const single = await compare("auth.profile", cookie, { dbDown: true });
    expect(single).toMatchObject({ status: 503, passedOn: false });
    expect(single.headers["retry-after"]).toBe("5");
    const batch = await compare(`auth.profile,certificates.get?batch=1&input=${input({ 1: { tokenId } })}`, cookie, {
      dbDown: true,
    });
    expect(batch).toMatchObject({ status: 503, passedOn: false });
    expect(json(batch)).toHaveLength(2);
  });

  test("security: a signed request acts within its key's scopes, and only what it signed is run", async () => {
    const admin = await signUp(api, "direct_key_admin", "admin");
    const created = await api.mutation(
      "admin.createApiKey",
      { name: "direct reader", scopes: ["read"], userId: user.id },
      admin.headers,
    );
    const key = { id: created.body.result.data.keyId, secret: created.body.result.data.secret };
    const signed = apps(api.deps, [verifySignedRequests(api.deps)]);
    // Each request gets its own nonce: a nonce is accepted once.
    const send = async (app: Hono, path: string, signedPath = path) => {
      const headers = await signatureHeaders(key, {
        method: "GET",
        url: `http://localhost/trpc/${signedPath}`,
        body: new Uint8Array(),
      });
      return answer(app, path, headers);
    };
    for (const path of ["auth.profile", "admin.listApiKeys", `account.transactions?input=${input({ limit: 1 })}`]) {
      const before = passedOn;
      const actual = await send(signed.withDirect, path);
      expect(passedOn, path).toBe(before);
      expect(actual, path).toEqual(await send(signed.adapterOnly, path));
    }
    expect((await send(signed.withDirect, "admin.listApiKeys")).status).toBe(403);
    // The signature covers the path and query as `new URL()` reads them, without the fragment: nothing after `#` may
    // be run. Signed without input, sent with input after `#`: the adapter runs it without input (400).
    const smuggled = await send(signed.withDirect, `certificates.get#?input=${input({ tokenId })}`, "certificates.get");
    expect(smuggled.status).toBe(400);
  });
});
