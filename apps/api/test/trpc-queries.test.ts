import { Hono, type MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
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

beforeAll(async () => {
  api = await createTestApi();
  user = await signUp(api, "direct_reader", "user");
  tokenId = await certificateFixtures(api).issueIndexed("bafkreidirectqueriescertificate");
  const { queries, adapter } = createTrpcHandlers(api.deps);
  const counted: MiddlewareHandler = (c, next) => {
    passedOn++;
    return adapter(c, next);
  };
  adapterOnly = new Hono().use("/trpc/*", adapter);
  withDirect = new Hono().use("/trpc/*", queries).use("/trpc/*", counted);
});
afterAll(() => api.close());

type Answer = { status: number; body: string; headers: Record<string, string | string[]> };

async function answer(app: Hono, path: string, headers: Record<string, string>): Promise<Answer> {
  const response = await app.request(`http://localhost/trpc/${path}`, { headers });
  const seen: Record<string, string | string[]> = {};
  for (const name of ["content-type", "vary", "retry-after", "allow"]) {
    const value = response.headers.get(name);
    if (value !== null) seen[name] = value;
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) seen["set-cookie"] = cookies;
  return { status: response.status, body: await response.text(), headers: seen };
}

/** The answer's JSON body; only the direct path's answers are read this way (a streamed batch is JSON lines). */
const json = (got: Answer) => JSON.parse(got.body);

/** Sends `path` to both apps; returns the direct one's answer and whether it passed the request on to the adapter. */
async function compare(path: string, headers: Record<string, string> = {}) {
  const expected = await answer(adapterOnly, path, headers);
  const before = passedOn;
  const actual = await answer(withDirect, path, headers);
  expect(actual).toEqual(expected);
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
