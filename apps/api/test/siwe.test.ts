import { users } from "@certchain/db";
import { eq, sql } from "drizzle-orm";
import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { type CreateSiweMessageParameters, createSiweMessage } from "viem/siwe";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bearer, createTestApi, type TestApi } from "./helpers.ts";

/**
 * Sign-In with Ethereum against the real API, Redis and anvil, with messages signed by viem local accounts: linking a
 * wallet while signed in, signing in with a linked one, and every way a message is refused, each leaving nothing
 * written.
 */
let api: TestApi;
const session: Record<string, Record<string, string>> = {};

async function signUp(name: string) {
  const result = await api.mutation("auth.register", {
    username: name,
    email: `${name}@example.org`,
    password: "long enough pw",
  });
  session[name] = bearer(result.body.result.data.token);
}

beforeAll(async () => {
  api = await createTestApi();
  await signUp("alice");
  await signUp("bob");
});
afterAll(() => api.close());

const newWallet = (): LocalAccount => privateKeyToAccount(generatePrivateKey());

async function issueNonce() {
  const result = await api.mutation("auth.siweNonce");
  expect(result.status).toBe(200);
  return result.body.result.data as { nonce: string; domain: string; uri: string; chainId: number; expiresAt: string };
}

/** The message a wallet would be shown for a fresh nonce, as the API describes it, with `overrides` applied. */
async function messageFor(wallet: LocalAccount, overrides: Partial<CreateSiweMessageParameters> = {}) {
  const { nonce, domain, uri, chainId } = await issueNonce();
  return createSiweMessage({
    address: wallet.address,
    domain,
    uri,
    chainId,
    nonce,
    version: "1",
    issuedAt: new Date(),
    statement: "Sign in to certchain",
    ...overrides,
  });
}

async function verify(message: string, signer: LocalAccount, headers: Record<string, string> = {}) {
  const signature = await signer.signMessage({ message });
  return api.mutation("auth.siweVerify", { message, signature }, headers);
}

/** What a refused attempt must leave untouched: sessions and every account's linked wallet. */
async function writtenState() {
  const [[row]] = (await api.deps.db.execute(sql`SELECT COUNT(*) AS n FROM sessions`)) as unknown as [
    Array<{ n: number }>,
  ];
  const links = await api.deps.db
    .select({ id: users.id, externalAddress: users.externalAddress })
    .from(users)
    .orderBy(users.id);
  return { sessions: Number(row?.n), links };
}

describe("auth.siweNonce", () => {
  test("default: a fresh random nonce, kept in Redis for five minutes, with what the message must name", async () => {
    const first = await issueNonce();
    const second = await issueNonce();
    expect(first.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(second.nonce).not.toBe(first.nonce);
    expect(first).toMatchObject({ domain: "localhost:3000", uri: "http://localhost:3000", chainId: 31337 });
    const ttl = await api.deps.redis.ttl(`${api.deps.config.redisPrefix}:siwe-nonce:${first.nonce}`);
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
  });
});

describe("auth.siweVerify", () => {
  test("default: a signed-in user links a wallet, then signs in with it alone", async () => {
    const wallet = newWallet();
    const linked = await verify(await messageFor(wallet), wallet, session.alice);
    expect(linked.status).toBe(200);
    expect(linked.body.result.data).toMatchObject({
      outcome: "linked",
      user: { username: "alice", externalAddress: wallet.address.toLowerCase() },
    });
    expect(linked.headers.get("set-cookie")).toBeNull();

    const signedIn = await verify(await messageFor(wallet), wallet);
    expect(signedIn.status).toBe(200);
    const data = signedIn.body.result.data;
    expect(data).toMatchObject({ outcome: "signedIn", user: { username: "alice" } });
    // The same token handling as auth.login: a bearer token in the answer and the same token as the session cookie.
    expect(signedIn.headers.get("set-cookie")).toContain(`certchain_session=${data.token}`);
    const profile = await api.query("auth.profile", undefined, bearer(data.token));
    expect(profile.body.result.data).toMatchObject({
      username: "alice",
      externalAddress: wallet.address.toLowerCase(),
    });
  });

  test("behavior: linking again replaces the account's wallet; the old one no longer signs in", async () => {
    const [first, second] = [newWallet(), newWallet()];
    expect((await verify(await messageFor(first), first, session.bob)).status).toBe(200);
    expect((await verify(await messageFor(second), second, session.bob)).status).toBe(200);
    const [bob] = await api.deps.db.select().from(users).where(eq(users.username, "bob"));
    expect(bob?.externalAddress).toBe(second.address.toLowerCase());
    expect((await verify(await messageFor(first), first)).status).toBe(404);
  });

  test("behavior: of two concurrent attempts with one nonce, exactly one succeeds", async () => {
    const wallet = newWallet();
    await verify(await messageFor(wallet), wallet, session.alice);
    const message = await messageFor(wallet);
    const signature = await wallet.signMessage({ message });
    const results = await Promise.all([1, 2].map(() => api.mutation("auth.siweVerify", { message, signature })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  test("error: a wallet linked to another account cannot be linked again (CONFLICT)", async () => {
    const wallet = newWallet();
    expect((await verify(await messageFor(wallet), wallet, session.alice)).status).toBe(200);
    const before = await writtenState();
    const result = await verify(await messageFor(wallet), wallet, session.bob);
    expect(result.status).toBe(409);
    expect(result.body.error.message).toContain("linked to another account");
    expect(await writtenState()).toEqual(before);
  });

  test("error: a valid signature from a wallet no account is linked to signs nobody in (NOT_FOUND)", async () => {
    const wallet = newWallet();
    const before = await writtenState();
    const result = await verify(await messageFor(wallet), wallet);
    expect(result.status).toBe(404);
    expect(result.body.error.message).toContain("No account is linked");
    expect(await writtenState()).toEqual(before);
  });

  describe("refused messages write nothing", () => {
    const linkedWallet = newWallet();
    beforeAll(async () => {
      // Linked to alice, so a refusal cannot be mistaken for "no account is linked".
      const created = await api.mutation("auth.register", {
        username: "carol",
        email: "carol@example.org",
        password: "long enough pw",
      });
      const carol = bearer(created.body.result.data.token);
      expect((await verify(await messageFor(linkedWallet), linkedWallet, carol)).status).toBe(200);
    });

    /** Each case prepares a signed message (using up whatever it must first); the refusal is what is measured. */
    type Attempt = { message: string; signer: LocalAccount };
    const signed = (message: string, signer = linkedWallet): Attempt => ({ message, signer });
    const cases: Array<[string, () => Promise<Attempt>, string]> = [
      [
        "a replayed nonce",
        async () => {
          const message = await messageFor(linkedWallet);
          expect((await verify(message, linkedWallet)).status).toBe(200);
          return signed(message);
        },
        "Unknown, used or expired nonce",
      ],
      [
        "an expired nonce",
        async () => {
          const message = await messageFor(linkedWallet);
          const nonce = /Nonce: (\w+)/.exec(message)?.[1];
          await api.deps.redis.pexpire(`${api.deps.config.redisPrefix}:siwe-nonce:${nonce}`, 1);
          await new Promise((resolve) => setTimeout(resolve, 20));
          return signed(message);
        },
        "Unknown, used or expired nonce",
      ],
      [
        "a nonce never issued",
        async () => signed(await messageFor(linkedWallet, { nonce: "n0tIssuedByTheApi42" })),
        "Unknown, used or expired nonce",
      ],
      [
        "a message for another domain",
        async () => signed(await messageFor(linkedWallet, { domain: "phishing.example" })),
        "The message is for phishing.example, not localhost:3000",
      ],
      [
        "a URI on another origin",
        async () => signed(await messageFor(linkedWallet, { uri: "https://phishing.example/login" })),
        "is not on http://localhost:3000",
      ],
      [
        "another chain",
        async () => signed(await messageFor(linkedWallet, { chainId: 1 })),
        "The message is for chain 1, but this API signs in on chain 31337",
      ],
      [
        "an expired message",
        async () => signed(await messageFor(linkedWallet, { expirationTime: new Date(Date.now() - 1000) })),
        "The message expired at",
      ],
      [
        "a message not valid yet",
        async () => signed(await messageFor(linkedWallet, { notBefore: new Date(Date.now() + 60_000) })),
        "The message is not valid before",
      ],
      [
        "the wrong signer",
        async () => signed(await messageFor(linkedWallet), newWallet()),
        `is not ${linkedWallet.address}'s signature`,
      ],
    ];

    test.each(cases)("error: %s is UNAUTHORIZED", async (_name, prepare, why) => {
      const { message, signer } = await prepare();
      const before = await writtenState();
      const result = await verify(message, signer);
      expect(result.status).toBe(401);
      expect(result.body.error.message).toContain(why);
      expect(await writtenState()).toEqual(before);
    });

    test("error: a refused attempt still uses up its nonce", async () => {
      const { nonce, uri, chainId } = await issueNonce();
      const base = { address: linkedWallet.address, uri, chainId, nonce, version: "1" as const, issuedAt: new Date() };
      const wrongDomain = createSiweMessage({ ...base, domain: "phishing.example" });
      expect((await verify(wrongDomain, linkedWallet)).status).toBe(401);
      const right = await verify(createSiweMessage({ ...base, domain: "localhost:3000" }), linkedWallet);
      expect(right.status).toBe(401);
      expect(right.body.error.message).toContain("Unknown, used or expired nonce");
    });

    test("error: text that is not a sign-in message is BAD_REQUEST", async () => {
      const result = await api.mutation("auth.siweVerify", {
        message: "Please sign this to continue",
        signature: await linkedWallet.signMessage({ message: "Please sign this to continue" }),
      });
      expect(result.status).toBe(400);
    });
  });

  test("error: a signed-in user's refused link leaves the account as it was", async () => {
    const before = await writtenState();
    const wallet = newWallet();
    const result = await verify(await messageFor(wallet, { chainId: 5 }), wallet, session.bob);
    expect(result.status).toBe(401);
    expect(await writtenState()).toEqual(before);
  });
});
