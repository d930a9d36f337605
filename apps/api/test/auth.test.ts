import { sessions, users, wallets } from "@certchain/db";
import { decryptWalletKey } from "@certchain/queue";
import { eq, sql } from "drizzle-orm";
import { privateKeyToAddress } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SESSION_COOKIE } from "../src/auth/credentials.ts";
import { sessionIdOf } from "../src/auth/session-token.ts";
import { bearer, createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

let counter = 0;
/** A fresh, valid registration each call. */
function newAccount() {
  counter += 1;
  return { username: `alice_${counter}`, email: `alice${counter}@example.org`, password: "correct horse battery" };
}

async function register(account = newAccount()) {
  const result = await api.mutation("auth.register", account);
  expect(result.status).toBe(200);
  return { account, token: result.body.result.data.token as string, result };
}

describe("auth.register", () => {
  test("default: creates the account, signs it in and returns its profile", async () => {
    const { account, token, result } = await register();
    expect(result.body.result.data.user).toMatchObject({
      username: account.username,
      email: account.email,
      role: "user",
    });
    expect(token).toMatch(/^[a-z2-7]{32}$/);
    const profile = await api.query("auth.profile", undefined, bearer(token));
    expect(profile.body.result.data.username).toBe(account.username);
  });

  test("behavior: the session cookie is HttpOnly, Secure and SameSite=Lax", async () => {
    const { result, token } = await register();
    const cookie = result.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    expect(cookie).toContain(`${SESSION_COOKIE}=${token}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
  });

  test("behavior: only the token's SHA-256 is stored, and the password only as argon2id", async () => {
    const { account, token } = await register();
    const [row] = await api.deps.db.select().from(users).where(eq(users.username, account.username));
    expect(row?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const stored = await api.deps.db
      .select()
      .from(sessions)
      .where(eq(sessions.userId, row?.id ?? -1));
    expect(stored.map((s) => s.id)).toEqual([sessionIdOf(token)]);
  });

  test("behavior: registration creates a custodial wallet whose key is stored only encrypted", async () => {
    const { account, result } = await register();
    const profile = result.body.result.data.user;
    expect(profile.walletAddress).toMatch(/^0x[0-9a-f]{40}$/);
    const [wallet] = await api.deps.db.select().from(wallets).where(eq(wallets.address, profile.walletAddress));
    expect(wallet?.keyVersion).toBe(1);
    const key = decryptWalletKey(
      { ...(wallet as NonNullable<typeof wallet>) },
      new Map([[1, api.deps.config.masterKey]]),
    );
    expect(privateKeyToAddress(key).toLowerCase()).toBe(profile.walletAddress);
    // The plaintext key appears nowhere in the row.
    expect(wallet?.encryptedPrivateKey.toString("hex")).not.toContain(key.slice(2));
    expect(account.username).toBe(profile.username);
  });

  test("error: a taken username or email is a CONFLICT that does not say which", async () => {
    const { account } = await register();
    const sameName = await api.mutation("auth.register", { ...newAccount(), username: account.username.toUpperCase() });
    const sameEmail = await api.mutation("auth.register", { ...newAccount(), email: account.email });
    expect(sameName.status).toBe(409);
    expect(sameEmail.status).toBe(409);
    expect(sameName.body.error.message).toBe(sameEmail.body.error.message);
  });

  test.each([
    ["an extra field (mass assignment)", { role: "admin" }, "Unrecognized key"],
    ["a short password", { password: "short" }, "password"],
    ["a malformed email", { email: "not-an-email" }, "email"],
    ["a username with markup", { username: "<script>" }, "username"],
    ["a huge username", { username: "a".repeat(10_000) }, "username"],
  ])("error: %s is a 400 naming the field, and nothing is written", async (_case, override, expected) => {
    const account = { ...newAccount(), ...override };
    const [before] = await api.deps.db.select({ n: sql<number>`count(*)` }).from(users);
    const result = await api.mutation("auth.register", account);
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body.error)).toContain(expected);
    const [after] = await api.deps.db.select({ n: sql<number>`count(*)` }).from(users);
    expect(after?.n).toBe(before?.n);
  });
});

describe("auth.login", () => {
  test("default: by username or by email", async () => {
    const { account } = await register();
    const byName = await api.mutation("auth.login", { login: account.username, password: account.password });
    const byEmail = await api.mutation("auth.login", {
      login: account.email.toUpperCase(),
      password: account.password,
    });
    expect(byName.status).toBe(200);
    expect(byEmail.status).toBe(200);
    expect(byName.body.result.data.token).not.toBe(byEmail.body.result.data.token);
  });

  test("error: a wrong password and an unknown account get the same 401", async () => {
    const { account } = await register();
    const wrong = await api.mutation("auth.login", { login: account.username, password: "wrong password!" });
    const unknown = await api.mutation("auth.login", { login: "nobody_here", password: "wrong password!" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error.message).toBe(unknown.body.error.message);
  });
});

describe("sessions", () => {
  test("behavior: logout invalidates the token at once, so a stolen copy stops working", async () => {
    const { token } = await register();
    const stolen = token;
    expect((await api.mutation("auth.logout", undefined, bearer(token))).status).toBe(200);
    expect((await api.query("auth.profile", undefined, bearer(stolen))).status).toBe(401);
  });

  test("behavior: logoutAll ends every session of the user", async () => {
    const { account, token } = await register();
    const second = await api.mutation("auth.login", { login: account.username, password: account.password });
    const secondToken = second.body.result.data.token as string;
    expect((await api.mutation("auth.logoutAll", undefined, bearer(token))).status).toBe(200);
    expect((await api.query("auth.profile", undefined, bearer(secondToken))).status).toBe(401);
  });

  test("behavior: an expired session is refused and deleted", async () => {
    const { token } = await register();
    await api.deps.db
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(sessions.id, sessionIdOf(token)));
    expect((await api.query("auth.profile", undefined, bearer(token))).status).toBe(401);
    expect(
      await api.deps.db
        .select()
        .from(sessions)
        .where(eq(sessions.id, sessionIdOf(token))),
    ).toEqual([]);
  });

  test("behavior: a session in the second half of its life slides to a full lifetime, and the cookie follows", async () => {
    const { token } = await register();
    const soon = new Date(Date.now() + 5 * 24 * 3600 * 1000);
    await api.deps.db
      .update(sessions)
      .set({ expiresAt: soon })
      .where(eq(sessions.id, sessionIdOf(token)));
    const result = await api.query("auth.profile", undefined, { cookie: `${SESSION_COOKIE}=${token}` });
    expect(result.status).toBe(200);
    const [row] = await api.deps.db
      .select()
      .from(sessions)
      .where(eq(sessions.id, sessionIdOf(token)));
    expect(row?.expiresAt.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3600 * 1000);
    expect(result.headers.getSetCookie().join()).toContain(`${SESSION_COOKIE}=${token}`);
  });

  test("error: anonymous, malformed and unknown tokens get 401 from protected procedures", async () => {
    expect((await api.query("auth.profile")).status).toBe(401);
    expect((await api.query("auth.profile", undefined, bearer("not a token"))).status).toBe(401);
    expect((await api.query("auth.profile", undefined, bearer("a".repeat(32)))).status).toBe(401);
  });

  test("behavior: no response ever carries a password hash", async () => {
    const { account, token } = await register();
    const login = await api.mutation("auth.login", { login: account.username, password: account.password });
    const profile = await api.query("auth.profile", undefined, bearer(token));
    for (const body of [login.body, profile.body]) {
      expect(JSON.stringify(body)).not.toMatch(/argon2|passwordHash|password_hash/);
    }
  });
});

describe("REST mirror", () => {
  const rest = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    api.app.request(`/api${path}`, {
      method,
      headers: { "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  test("default: register, profile, logout and login answer like their procedures", async () => {
    const account = newAccount();
    const registered = await rest("POST", "/auth/register", account);
    expect(registered.status).toBe(200);
    const { token, user } = (await registered.json()) as { token: string; user: { username: string } };
    expect(user.username).toBe(account.username);
    const profile = await rest("GET", "/auth/profile", undefined, bearer(token));
    expect(await profile.json()).toMatchObject({ username: account.username, role: "user" });
    expect((await rest("POST", "/auth/logout", undefined, bearer(token))).status).toBe(200);
    expect((await rest("GET", "/auth/profile", undefined, bearer(token))).status).toBe(401);
    const login = await rest("POST", "/auth/login", { login: account.username, password: account.password });
    expect(login.status).toBe(200);
  });

  test("error: a body that is not application/json is a 415, so a cross-site form cannot log anyone in", async () => {
    const response = await api.app.request("/api/auth/login", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ login: "attacker", password: "pw=" }),
    });
    expect(response.status).toBe(415);
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  test("error: bad JSON and bad fields are 400s with a clear message, never a stack", async () => {
    const badJson = await rest("POST", "/auth/register", undefined, {});
    const sent = await api.app.request("/api/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(badJson.status).toBe(400);
    expect(sent.status).toBe(400);
    expect(await sent.json()).toEqual({ error: { code: "BAD_REQUEST", message: "The request body must be JSON" } });
    const badField = await rest("POST", "/auth/register", { ...newAccount(), email: 42 });
    expect(badField.status).toBe(400);
    const body = await badField.text();
    expect(body).toContain("email");
    expect(body).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe("probes", () => {
  test("default: /healthz and /readyz answer 200 with the database up", async () => {
    expect((await api.app.request("/healthz")).status).toBe(200);
    expect(await (await api.app.request("/readyz")).json()).toEqual({ status: "ready" });
  });
});
