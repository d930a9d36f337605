import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SESSION_COOKIE } from "../src/auth/credentials.ts";
import { createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
let token: string;
beforeAll(async () => {
  api = await createTestApi();
  const registered = await api.mutation("auth.register", {
    username: "csrf_target",
    email: "csrf@example.org",
    password: "long enough password",
  });
  token = registered.body.result.data.token;
});
afterAll(() => api.close());

const logoutWith = (headers: Record<string, string>) =>
  api.app.request("http://localhost/trpc/auth.logout", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: "null",
  });

describe("CSRF", () => {
  test.each([
    [
      "a cross-site form post (text/plain, foreign Origin)",
      { origin: "https://evil.example", "content-type": "text/plain" },
    ],
    ["a cross-site JSON post", { origin: "https://evil.example" }],
    ["a post with no Origin and no Sec-Fetch-Site", {}],
    ["a post marked cross-site", { "sec-fetch-site": "cross-site" }],
  ])("error: %s riding the session cookie is refused with 403 and changes nothing", async (_case, headers) => {
    const response = await logoutWith({ cookie: `${SESSION_COOKIE}=${token}`, ...headers });
    expect(response.status).toBe(403);
    expect((await api.query("auth.profile", undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  test("behavior: the same request from our own origin, or with a bearer token, goes through", async () => {
    const login = async () =>
      (await api.mutation("auth.login", { login: "csrf_target", password: "long enough password" })).body.result.data
        .token;
    const sameOrigin = await logoutWith({ cookie: `${SESSION_COOKIE}=${await login()}`, origin: "http://localhost" });
    expect(sameOrigin.status).toBe(200);
    const fetchMetadata = await logoutWith({
      cookie: `${SESSION_COOKIE}=${await login()}`,
      "sec-fetch-site": "same-origin",
    });
    expect(fetchMetadata.status).toBe(200);
    const bearer = await logoutWith({ authorization: `Bearer ${await login()}`, origin: "https://evil.example" });
    expect(bearer.status).toBe(200);
  });
});

describe("resource limits", () => {
  test("error: a body over 1 MiB is a 413 before any procedure runs", async () => {
    const response = await api.app.request("http://localhost/trpc/auth.login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ login: "x".repeat(2 * 1024 * 1024), password: "y" }),
    });
    expect(response.status).toBe(413);
  });

  test("error: a tRPC batch of more than 10 calls is refused, while 10 go through", async () => {
    const batch = (size: number) => {
      const paths = Array.from({ length: size }, () => "certificates.list").join(",");
      const input = Object.fromEntries(Array.from({ length: size }, (_, i) => [i, {}]));
      return api.app.request(
        `http://localhost/trpc/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`,
      );
    };
    expect((await batch(10)).status).toBe(200);
    const tooMany = await batch(11);
    expect(tooMany.status).toBe(400);
    expect(await tooMany.text()).toContain("Batch call exceeds maximum size");
  });

  test("error: an internal failure reaches the client as a fixed sentence, never its cause", async () => {
    // The chain node is unreachable: viem's error would name the node URL (often with an API key in it).
    const { createApiDeps } = await import("../src/deps.ts");
    const { createApp } = await import("../src/app.ts");
    const broken = await createApiDeps(
      { ...api.deps.config, ethNodeUrl: "http://127.0.0.1:1/secret-key" },
      api.deps.db,
      {
        deployment: api.deployment,
        storage: api.deps.storage,
      },
    );
    const response = await createApp(broken).request("/trpc/certificates.verify?input=%7B%22tokenId%22%3A1%7D");
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(body).toContain("Internal server error");
    expect(body).not.toContain("secret-key");
    expect(body).not.toContain("127.0.0.1");
  });
});

describe("headers", () => {
  test("default: responses carry the secure headers and no X-Powered-By", async () => {
    const response = await api.app.request("/healthz");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("x-powered-by")).toBeNull();
  });
});
