import { type ApiKeyCredentials, signatureHeaders } from "@certchain/client";
import { createLogger } from "@certchain/common";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createApp } from "../src/app.ts";
import { createApiDeps } from "../src/deps.ts";
import { addressBucket } from "../src/http/client-ip.ts";
import { createLimits, LimiterUnavailableError } from "../src/http/rate-limit.ts";
import { createTestApi, signUp, type TestApi } from "./helpers.ts";

/**
 * Rate limits as clients meet them: 429 with Retry-After once a client's budget is spent, shared by every API
 * process through Redis, per account for failed logins, and a Redis outage that fails fast, open or closed as set.
 */
const PER_MINUTE = 6;
const LOGIN_FAILURES = 3;
let api: TestApi;

beforeAll(async () => {
  api = await createTestApi({
    RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
    RATE_LIMIT_LOGIN_FAILURES: String(LOGIN_FAILURES),
    RATE_LIMIT_NONCES_PER_MINUTE: "2",
    // One proxy in front: a test gives each request its own client address in X-Forwarded-For.
    TRUST_PROXY: "1",
  });
  await api.deps.limits.ready();
});
afterAll(() => api.close());

/** Each test starts with fresh budgets (`ip`: only the request budget, keeping login failures). */
async function resetLimits(which = "*") {
  const keys = await api.deps.redis.keys(`${api.deps.config.redisPrefix}:rate:${which}`);
  if (keys.length > 0) await api.deps.redis.del(...keys);
}

describe("requests per client", () => {
  test("behavior: the budget is shared by every API process, then 429 with Retry-After", async () => {
    await resetLimits();
    // A second process: its own deps and app over the same Redis and database.
    const closers: Array<() => Promise<void>> = [];
    const otherDeps = await createApiDeps(api.deps.config, api.deps.db, {
      deployment: api.deployment,
      storage: api.deps.storage,
      onClose: (close) => closers.push(close),
    });
    const other = createApp(otherDeps);
    await otherDeps.limits.ready();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < PER_MINUTE; i++) {
        statuses.push((await (i % 2 ? other : api.app).request("/api/certificates/1")).status);
      }
      expect(statuses.every((status) => status === 404)).toBe(true);
      const refused = await other.request("/api/certificates/1");
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await refused.json()).toEqual({
        error: { code: "TOO_MANY_REQUESTS", message: "Too many requests from this address" },
      });
      expect((await api.app.request("/trpc/certificates.get?input=%7B%22tokenId%22%3A1%7D")).status).toBe(429);
    } finally {
      await Promise.all(closers.map((close) => close()));
    }
  });

  test("behavior: documents from the IPFS gateway and verify pages spend the same budget", async () => {
    await resetLimits();
    const { cid } = await api.deps.storage.put(new TextEncoder().encode("%PDF-1.7 budget"), "application/pdf");
    for (let i = 0; i < PER_MINUTE - 2; i++) expect((await api.app.request("/api/certificates/1")).status).toBe(404);
    expect((await api.app.request(`/ipfs/${cid}`)).status).toBe(200);
    expect((await api.app.request("/verify/1")).status).not.toBe(429);
    const refused = await api.app.request(`/ipfs/${cid}`);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("behavior: requests arriving together get exactly the budget, in arrival order", async () => {
    await resetLimits();
    // Ten requests at once: their checks go to Redis together, and six of them fit.
    const statuses = await Promise.all(
      Array.from({ length: 10 }, async () => (await api.app.request("/api/certificates/1")).status),
    );
    expect(statuses).toEqual([...Array(PER_MINUTE).fill(404), ...Array(10 - PER_MINUTE).fill(429)]);
    // The refused ones counted too, as single checks count them: the next request is refused as well.
    expect((await api.app.request("/api/certificates/1")).status).toBe(429);
    const [key] = await api.deps.redis.keys(`${api.deps.config.redisPrefix}:rate:ip:*`);
    expect(Number(await api.deps.redis.get(key ?? ""))).toBe(11);
  });

  test("behavior: batches arriving together spend their calls in arrival order", async () => {
    await resetLimits();
    const input = (n: number) =>
      encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { tokenId: 1 }]))));
    const batch = (n: number) => `/trpc/${Array(n).fill("certificates.get").join(",")}?batch=1&input=${input(n)}`;
    // Against a budget of 6: 4 calls fit, 2 more fit exactly, 3 more do not; 1 after those is refused too, since
    // refused calls count as well.
    const statuses = await Promise.all(
      [batch(4), batch(2), batch(3), batch(1)].map(async (path) => (await api.app.request(path)).status),
    );
    expect(statuses.map((status) => status === 429)).toEqual([false, false, true, true]);
  });

  test("behavior: a tRPC batch spends one unit per call", async () => {
    await resetLimits();
    const input = encodeURIComponent(JSON.stringify({ 0: { tokenId: 1 }, 1: { tokenId: 2 }, 2: { tokenId: 3 } }));
    const batch = `/trpc/certificates.get,certificates.get,certificates.get?batch=1&input=${input}`;
    expect((await api.app.request(batch)).status).not.toBe(429);
    expect((await api.app.request(batch)).status).not.toBe(429);
    expect((await api.app.request(batch)).status).toBe(429);

    // The same batch with its commas, or the prefix itself, percent-encoded, which tRPC decodes: still three calls.
    for (const encoded of [batch.replaceAll(",", "%2C"), batch.replace("/trpc/", "/%74rpc/")]) {
      await resetLimits();
      expect((await api.app.request(encoded)).status).not.toBe(429);
      expect((await api.app.request(encoded)).status).not.toBe(429);
      expect((await api.app.request(encoded)).status).toBe(429);
    }
  });
});

describe("API keys", () => {
  let key: ApiKeyCredentials;
  let address = 0;
  /** Every call comes from an address not seen before, so only the key's own budget can run out. */
  const freshAddress = () => ({ "x-forwarded-for": `198.51.100.${++address}` });
  const signed = async (path: string, apiKey = key) =>
    api.app.request(path, {
      headers: {
        ...freshAddress(),
        ...(await signatureHeaders(apiKey, { method: "GET", url: `http://localhost${path}`, body: new Uint8Array() })),
      },
    });

  beforeAll(async () => {
    await resetLimits();
    const admin = await signUp(api, "limited_key_admin", "admin");
    const created = await api.mutation("admin.createApiKey", { name: "busy service", scopes: ["read"] }, admin.headers);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    key = { id: created.body.result.data.keyId, secret: created.body.result.data.secret };
  });

  test("behavior: a key has one budget wherever its requests come from, then 429 in the path's error shape", async () => {
    await resetLimits();
    const statuses: number[] = [];
    for (let i = 0; i < PER_MINUTE; i++) statuses.push((await signed("/api/auth/profile")).status);
    expect(statuses.every((status) => status === 200)).toBe(true);

    const refused = await signed("/api/auth/profile");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.json()).toEqual({
      error: { code: "TOO_MANY_REQUESTS", message: "Too many requests for this API key" },
    });
    // Over tRPC the refusal is tRPC's envelope, so the typed client reports TOO_MANY_REQUESTS.
    const overTrpc = await signed("/trpc/auth.profile");
    expect(overTrpc.status).toBe(429);
    expect(((await overTrpc.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
      "TOO_MANY_REQUESTS",
    );
    // The addresses those requests came from still have their own budgets.
    expect(
      (await api.app.request("/api/certificates/1", { headers: { "x-forwarded-for": "198.51.100.1" } })).status,
    ).toBe(404);
  });

  test("error: requests with a wrong signature do not spend the key's budget", async () => {
    await resetLimits();
    const forged = { id: key.id, secret: `cks_${"A".repeat(43)}` };
    for (let i = 0; i < PER_MINUTE + 2; i++) expect((await signed("/api/auth/profile", forged)).status).toBe(401);
    expect((await signed("/api/auth/profile")).status).toBe(200);
  });
});

describe("failed logins", () => {
  test("error: after N wrong passwords the account waits, even with the right one; others do not", async () => {
    await resetLimits();
    const account = { username: "limited_login", email: "limited@example.org", password: "long enough pw" };
    const bystander = { username: "bystander", email: "bystander@example.org", password: "long enough pw" };
    await api.mutation("auth.register", account);
    await api.mutation("auth.register", bystander);
    await resetLimits();
    for (let i = 0; i < LOGIN_FAILURES; i++) {
      const wrong = await api.mutation("auth.login", { login: account.username, password: "wrong password" });
      expect(wrong.status).toBe(401);
    }
    const locked = await api.mutation("auth.login", { login: account.username, password: account.password });
    expect(locked.status).toBe(429);
    expect(locked.body.error.data.code).toBe("TOO_MANY_REQUESTS");
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(60);
    // Another account is not locked.
    const other = await api.mutation("auth.login", { login: bystander.username, password: bystander.password });
    expect(other.status).toBe(200);
    // The REST path tells the same story, with the header.
    const rest = await api.app.request("/api/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ login: account.username, password: account.password }),
    });
    expect(rest.status).toBe(429);
    expect(rest.headers.get("retry-after")).not.toBeNull();
  });

  test("error: wrong passwords from one address lock the account there only; from many addresses, everywhere", async () => {
    await resetLimits();
    const account = { username: "targeted", email: "targeted@example.org", password: "long enough pw" };
    await api.mutation("auth.register", account);
    const from = (address: string) => ({ "x-forwarded-for": address });
    const login = (password: string, address: string) =>
      api.mutation("auth.login", { login: account.username, password }, from(address));
    for (let i = 0; i < LOGIN_FAILURES; i++) expect((await login("wrong password", "203.0.113.66")).status).toBe(401);
    expect((await login(account.password, "203.0.113.66")).status).toBe(429);
    // The owner, elsewhere, still signs in: a stranger cannot lock them out with a few guesses.
    expect((await login(account.password, "198.51.100.7")).status).toBe(200);

    // Guesses spread over many addresses: ten times as many lock the account for everyone.
    for (let address = 1; address < 10; address++) {
      for (let i = 0; i < LOGIN_FAILURES; i++) {
        expect((await login("wrong password", `203.0.113.${address}`)).status).toBe(401);
      }
    }
    const locked = await login(account.password, "198.51.100.7");
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(60);
  });

  test("behavior: a correct password clears the account's earlier failures", async () => {
    await resetLimits();
    const account = { username: "forgetful", email: "forgetful@example.org", password: "long enough pw" };
    await api.mutation("auth.register", account);
    for (let round = 0; round < 2; round++) {
      await resetLimits("ip*");
      for (let i = 0; i < LOGIN_FAILURES - 1; i++) {
        await api.mutation("auth.login", { login: account.username, password: "wrong password" });
      }
      expect((await api.mutation("auth.login", { login: account.username, password: account.password })).status).toBe(
        200,
      );
    }
  });

  test("error: sign-in nonces are limited per address", async () => {
    await resetLimits();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await api.mutation("auth.siweNonce")).status);
    expect(statuses).toEqual([200, 200, 429]);
  });
});

describe("sign-in attempts with room in the request budget", () => {
  /** The same limits on logins, with a request budget no test here reaches. */
  let roomy: TestApi;
  beforeAll(async () => {
    roomy = await createTestApi({
      RATE_LIMIT_PER_MINUTE: "1000",
      RATE_LIMIT_LOGIN_FAILURES: String(LOGIN_FAILURES),
      TRUST_PROXY: "1",
    });
    await roomy.deps.limits.ready();
  });
  afterAll(() => roomy.close());
  afterAll(() => roomy.close());

  test("error: attempts refused anywhere count nowhere: the owner's retries during a lock do not lock them out after", async () => {
    const account = { username: "besieged", email: "besieged@example.org", password: "long enough pw" };
    await roomy.mutation("auth.register", account);
    const login = (password: string, address: string) =>
      roomy.mutation("auth.login", { login: account.username, password }, { "x-forwarded-for": address });
    // Guesses from ten addresses lock the account everywhere.
    for (let address = 1; address <= 10; address++) {
      for (let i = 0; i < LOGIN_FAILURES; i++)
        expect((await login("wrong password", `192.0.2.${address}`)).status).toBe(401);
    }
    // The owner, at home, tries more often than their address allows while the account is locked.
    for (let i = 0; i <= LOGIN_FAILURES; i++) expect((await login(account.password, "198.51.100.99")).status).toBe(429);
    // Once the account's lock is over (its counter gone, as when the window ends), home signs in at once.
    const accountKeys = await roomy.deps.redis.keys(`${roomy.deps.config.redisPrefix}:rate:login-account:*`);
    await roomy.deps.redis.del(...accountKeys);
    expect((await login(account.password, "198.51.100.99")).status).toBe(200);
  });

  test("error: wrong passwords sent at once count at once; another spelling or address of the same /64 counts too", async () => {
    const account = { username: "hurried", email: "hurried@example.org", password: "long enough pw" };
    await roomy.mutation("auth.register", account);
    const from = (address: string) => ({ "x-forwarded-for": address });
    const login = (login: string, password: string, address: string) =>
      roomy.mutation("auth.login", { login, password }, from(address));

    // Thirty guesses at once from one address: only N are let through to the password check.
    const statuses = await Promise.all(
      Array.from({ length: 30 }, async () => (await login(account.username, "wrong password", "203.0.113.80")).status),
    );
    expect(statuses.filter((status) => status === 401)).toHaveLength(LOGIN_FAILURES);
    expect(statuses.filter((status) => status === 429)).toHaveLength(30 - LOGIN_FAILURES);
    // So the owner, elsewhere, is not locked out.
    expect((await login(account.username, account.password, "198.51.100.80")).status).toBe(200);
    // The same account in capitals, or by its email, is still locked; a login outside ASCII names no account.
    expect((await login("HURRIED", account.password, "203.0.113.80")).status).toBe(429);
    expect((await login(account.email, account.password, "203.0.113.80")).status).toBe(429);
    expect((await login("hürried", account.password, "203.0.113.80")).status).toBe(400);

    // An IPv6 client counts by its /64: another address of it is the same client.
    for (let i = 0; i < LOGIN_FAILURES; i++) {
      expect((await login(account.username, "wrong password", `2001:db8:0:7::${i + 1}`)).status).toBe(401);
    }
    expect((await login(account.username, account.password, "2001:db8:0:7:ffff::1")).status).toBe(429);
    expect((await login(account.username, account.password, "2001:db8:0:8::1")).status).toBe(200);
  });
});

describe("Redis unreachable", () => {
  const deadRedis = () => ({ ...api.deps.config, redisUrl: "redis://127.0.0.1:1" });
  const logger = () => createLogger({ ...api.deps.config, logLevel: "silent" }, "test");

  test("behavior: fails open for ordinary requests when so configured, at once rather than hanging", async () => {
    const limits = createLimits({ ...deadRedis(), rateLimitWhenRedisDown: "open" }, logger());
    const app = new Hono().use(limits.requests).get("/", (c) => c.text("served"));
    try {
      const started = Date.now();
      const response = await app.request("/");
      expect(response.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await limits.close();
    }
  });

  test("error: fails closed with 503 when so configured, and logins always fail closed", async () => {
    const limits = createLimits({ ...deadRedis(), rateLimitWhenRedisDown: "closed" }, logger());
    const app = new Hono().use(limits.requests).get("/", (c) => c.text("served"));
    try {
      const response = await app.request("/");
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("5");
      await expect(limits.loginAttempt("user:1", "203.0.113.9")).rejects.toBeInstanceOf(LimiterUnavailableError);
    } finally {
      await limits.close();
    }
  });
});

describe("client addresses", () => {
  test("behavior: IPv4 counts by address, IPv6 by its /64, however it is written", () => {
    expect(addressBucket("203.0.113.9")).toBe("203.0.113.9");
    expect(addressBucket("::ffff:203.0.113.9")).toBe("203.0.113.9");
    const bucket = "2001:db8:0:7::/64";
    for (const written of [
      "2001:db8:0:7::1",
      "2001:0DB8:0000:0007:ffff:ffff:ffff:ffff",
      "2001:db8:0:7:1:2:3:4",
      "2001:db8::7:0:0:0:1",
      "2001:db8:0:7::192.0.2.1",
      "2001:db8:0:7::1%eth0",
    ]) {
      expect(addressBucket(written), written).toBe(bucket);
    }
    expect(addressBucket("2001:db8:0:8::1")).not.toBe(bucket);
    expect(addressBucket("[2001:db8:0:7::1]:443")).toBe(bucket);
    expect(addressBucket("::1")).toBe("0:0:0:0::/64");
    // IPv4 however a proxy wrote it: mapped into IPv6 (both spellings), or with the client's port.
    for (const written of ["0:0:0:0:0:ffff:203.0.113.9", "::ffff:cb00:7109", "203.0.113.9:51234"]) {
      expect(addressBucket(written), written).toBe("203.0.113.9");
    }
    // Not an address: counted as written (a proxy's header can hold anything).
    for (const written of ["unknown", "1:2:3:4:5:6:7:8:9", "999.1.1.1"]) expect(addressBucket(written)).toBe(written);
  });
});
