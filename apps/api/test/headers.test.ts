import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SECURITY_HEADERS } from "../src/http/standard-headers.ts";
import { createTestApi, type TestApi } from "./helpers.ts";

/**
 * The headers every answer carries (`http/standard-headers.ts`): its request id and the security headers. Served, they
 * are written through Node's response rather than copied into the handler's, so these tests go over real HTTP as well
 * as through `app.request()`.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let api: TestApi;
let server: ServerType;
let url: string;
beforeAll(async () => {
  api = await createTestApi();
  server = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  if ("closeAllConnections" in server) server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await api.close();
});

const input = (value: unknown) => `input=${encodeURIComponent(JSON.stringify(value))}`;

/** One request of each kind the API answers, with the status it must get. */
const requests: Array<[kind: string, path: string, init: RequestInit, status: number]> = [
  ["a tRPC query", `/trpc/certificates.list?${input({})}`, {}, 200],
  ["a batched tRPC query", `/trpc/certificates.list,market.listings?batch=1&${input({ 0: {}, 1: {} })}`, {}, 200],
  ["a tRPC query for something missing", `/trpc/certificates.get?${input({ tokenId: 987_654 })}`, {}, 404],
  ["a tRPC query with bad input", `/trpc/certificates.get?${input({ tokenId: "one" })}`, {}, 400],
  [
    "a tRPC mutation (through the adapter) refused",
    "/trpc/auth.logout",
    { method: "POST", headers: { "content-type": "application/json" }, body: "null" },
    401,
  ],
  ["a REST read of something missing", "/api/certificates/987654", {}, 404],
  ["a path nothing serves", "/no/such/path", {}, 404],
  ["a probe", "/healthz", {}, 200],
];

describe.each([
  ["served over HTTP", (path: string, init: RequestInit) => fetch(`${url}${path}`, init)],
  ["in-process", (path: string, init: RequestInit) => api.app.request(path, init)],
])("%s", (_how, send) => {
  test.each(requests)(
    "default: %s is answered with a request id and every security header",
    async (_kind, path, init, status) => {
      const response = await send(path, init);
      expect(response.status).toBe(status);
      expect(response.headers.get("x-request-id")).toMatch(UUID);
      for (const [name, value] of SECURITY_HEADERS) expect(response.headers.get(name), name).toBe(value);
      expect(response.headers.get("x-powered-by")).toBeNull();
    },
  );

  test("behavior: each request gets its own id, and a client's plain-token id is kept", async () => {
    const [first, second] = await Promise.all([send("/healthz", {}), send("/healthz", {})]);
    expect(first?.headers.get("x-request-id")).not.toBe(second?.headers.get("x-request-id"));
    const chosen = await send("/healthz", { headers: { "x-request-id": "trace-42_a=b" } });
    expect(chosen.headers.get("x-request-id")).toBe("trace-42_a=b");
  });

  test("error: a client's id that is not a plain token, or too long, is replaced", async () => {
    for (const bad of ["a b", "<script>", "x".repeat(256)]) {
      const response = await send("/healthz", { headers: { "x-request-id": bad } });
      expect(response.headers.get("x-request-id"), bad).toMatch(UUID);
    }
  });

  test("behavior: a route's own policy is kept beside the defaults: the docs page's Content-Security-Policy, one value per header", async () => {
    const response = await send("/docs", {});
    expect(response.status).toBe(200);
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    // One value per header, not the default and the route's side by side.
    expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });

  test("behavior: a tRPC answer that sets a cookie carries it beside the standard headers", async () => {
    const response = await send("/trpc/auth.register", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://localhost" },
      body: JSON.stringify({
        username: `hdr_${Math.random().toString(36).slice(2, 10)}`,
        email: `hdr_${Math.random().toString(36).slice(2, 10)}@example.org`,
        password: "long enough password",
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toMatch(/HttpOnly/);
    expect(response.headers.get("x-request-id")).toMatch(UUID);
    expect(response.headers.get("strict-transport-security")).toBe("max-age=15552000; includeSubDomains");
  });
});

test("default: the security headers are exactly those of Hono's secureHeaders() with its defaults", async () => {
  const reference = await new Hono()
    .use(secureHeaders())
    .get("/", (c) => c.text("ok"))
    .request("/");
  const expected = [...reference.headers].filter(([name]) => name !== "content-type");
  expect(new Map(SECURITY_HEADERS)).toEqual(new Map(expected));
});
