import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { certificates, listings, sessions, transactions, txRequests, users, wallets } from "@certchain/db";
import { decryptWalletKey } from "@certchain/queue";
import { count, eq } from "drizzle-orm";
import { createTestClient, http } from "viem";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { appRouter } from "../src/root.ts";
import { bearer, createTestApi, signUp, type TestAccount, type TestApi } from "./helpers.ts";
import { access } from "./procedure-access.ts";
import { inputKeys } from "./procedure-inputs.ts";

/**
 * The OWASP API Security Top 10 (2023), the checks that span the whole API. docs/security.md maps every item to its
 * tests; the ones that live elsewhere are object-level (object-access.test.ts), function-level (authorization.test.ts),
 * malformed input (bad-input.test.ts), limits, CSRF and headers (security.test.ts, rate-limit.test.ts), sessions
 * (auth.test.ts, siwe.test.ts) and the stored-markup cases of the HTML pages (verify-page.test.ts).
 */
let api: TestApi;
let alice: TestAccount;
let uni: TestAccount;
let root: TestAccount;
let transferRequestId: string;
const hex32 = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as const;

beforeAll(async () => {
  api = await createTestApi();
  alice = await signUp(api, "alice", "user");
  uni = await signUp(api, "uni", "issuer");
  root = await signUp(api, "root", "admin");
  const indexed = { blockNumber: 1, blockHash: hex32(1), logIndex: 0 };
  await api.deps.db.insert(certificates).values({
    tokenId: 1,
    ownerAddress: alice.wallet,
    issuerAddress: uni.wallet,
    ipfsHash: "bafkreiexample",
    status: "valid",
    issuedAt: new Date(),
    issueTxHash: hex32(2),
    issuedBlockNumber: 1,
    ...indexed,
  });
  await api.deps.db.insert(listings).values({
    listingId: 1,
    tokenId: 1,
    sellerAddress: alice.wallet,
    currencyAddress: "0x0000000000000000000000000000000000000000",
    price: 10n ** 18n,
    status: "active",
    listedAt: new Date(),
    createdTxHash: hex32(3),
    createdBlockNumber: 1,
    createdBlockHash: hex32(1),
    createdLogIndex: 0,
    ...indexed,
  });
  await api.deps.db.insert(transactions).values({
    txHash: hex32(4),
    fromAddress: uni.wallet,
    toAddress: alice.wallet,
    amount: 5n,
    kind: "eth_transfer",
    status: "completed",
    ...indexed,
  });
  await createTestClient({ mode: "anvil", chain: foundry, transport: http(api.anvil.rpcUrl) }).setBalance({
    address: alice.wallet,
    value: 10n ** 18n,
  });
  const transfer = await api.mutation(
    "account.transfer",
    { to: "uni", currency: "eth", amount: "1000", idempotencyKey: "owasp-transfer" },
    alice.headers,
  );
  if (transfer.status !== 200) throw new Error(JSON.stringify(transfer.body));
  transferRequestId = transfer.body.result.data.requestId;
});
afterAll(() => api.close());

describe("API3 broken object property level authorization: no response exposes a secret", () => {
  /** Every value that must never leave the server, read from the database and the configuration. */
  async function secrets(): Promise<string[]> {
    const found: string[] = [api.deps.config.masterKey, api.deps.config.operatorPrivateKey];
    for (const { passwordHash } of await api.deps.db.select({ passwordHash: users.passwordHash }).from(users)) {
      found.push(passwordHash);
    }
    for (const { id } of await api.deps.db.select({ id: sessions.id }).from(sessions)) found.push(id);
    for (const row of await api.deps.db.select().from(wallets)) {
      found.push(Buffer.from(row.encryptedPrivateKey).toString("hex"), Buffer.from(row.authTag).toString("hex"));
      found.push(decryptWalletKey(row, api.deps.config.masterKeys));
    }
    return found.map((value) => value.replace(/^0x/, "").toLowerCase());
  }

  /** Field names that would mean an internal column or a credential made it into an answer. */
  const forbiddenKey = /password|secret|private|encrypted|cipher|auth_?tag|^iv$|key_?version|session_?id/i;

  function keysOf(value: unknown, into: string[] = []): string[] {
    if (Array.isArray(value)) for (const item of value) keysOf(item, into);
    else if (value !== null && typeof value === "object") {
      for (const [key, nested] of Object.entries(value)) {
        into.push(key);
        keysOf(nested, into);
      }
    }
    return into;
  }

  test("behavior: every read, as owner, issuer and admin, over tRPC and REST, is free of hashes, keys and internal fields", async () => {
    const answers: Array<{ label: string; status: number; text: string }> = [];
    const trpc = async (kind: "query" | "mutation", path: string, input: unknown, as: TestAccount | null) => {
      const result = await api[kind](path, input, as?.headers ?? {});
      answers.push({ label: `trpc ${path}`, status: result.status, text: JSON.stringify(result.body) });
    };
    const rest = async (path: string, as: TestAccount | null) => {
      const response = await api.app.request(`/api${path}`, { headers: as?.headers ?? {} });
      answers.push({ label: `GET /api${path}`, status: response.status, text: await response.text() });
    };

    const login = await api.mutation("auth.login", { login: "alice", password: "long enough pw" });
    answers.push({ label: "auth.login", status: login.status, text: JSON.stringify(login.body) });
    const registered = await api.mutation("auth.register", {
      username: "newcomer",
      email: "newcomer@example.org",
      password: "long enough pw",
    });
    answers.push({ label: "auth.register", status: registered.status, text: JSON.stringify(registered.body) });
    for (const who of [alice, uni, root, null]) {
      await trpc("query", "certificates.get", { tokenId: 1 }, who);
      await trpc("query", "certificates.list", { owner: alice.wallet }, who);
      await trpc("query", "certificates.verify", { tokenId: 1 }, who);
      await trpc("query", "market.listings", {}, who);
      await rest("/certificates/1", who);
      await rest("/market/listings", who);
      if (who === null) continue;
      await trpc("query", "auth.profile", undefined, who);
      await trpc("query", "account.balance", undefined, who);
      await trpc("query", "account.transactions", {}, who);
      await rest("/auth/profile", who);
      await rest("/account/transactions", who);
    }
    await trpc("query", "tx.status", { requestId: transferRequestId }, alice);

    // The sweep must have read real data, or it proves nothing.
    const reads = answers.filter((answer) => answer.status === 200);
    expect(reads.length).toBeGreaterThanOrEqual(40);
    expect(answers.find((answer) => answer.label === "trpc account.transactions")?.text).toContain(hex32(4));
    expect(answers.find((answer) => answer.label === "auth.login")?.text).toContain(alice.wallet);

    const hidden = await secrets();
    expect(hidden.length).toBeGreaterThanOrEqual(2 + 4 * 4); // keys, and each user's hash, session(s) and wallet
    for (const answer of answers) {
      const text = answer.text.toLowerCase();
      for (const secret of hidden) expect(text.includes(secret), `${answer.label} leaks a secret`).toBe(false);
      const keys = answer.text.startsWith("{") || answer.text.startsWith("[") ? keysOf(JSON.parse(answer.text)) : [];
      expect(
        keys.filter((key) => forbiddenKey.test(key)),
        answer.label,
      ).toEqual([]);
    }
  });
});

describe("API8 injection: SQL in accepted strings is data, never query text", () => {
  const payloads = ["' OR '1'='1' -- ", '" OR ""="', "%", "_", "alice' #", "1; DROP TABLE users; --"];

  test("error: a login or password made of SQL matches no account and opens no session", async () => {
    const before = await api.deps.db.select({ n: count() }).from(sessions);
    for (const payload of payloads) {
      for (const input of [
        { login: payload, password: "long enough pw" },
        { login: "alice", password: payload },
        { login: payload, password: payload },
      ]) {
        const result = await api.mutation("auth.login", input);
        expect(result.status, JSON.stringify(input)).toBeGreaterThanOrEqual(400);
        expect(result.status).toBeLessThan(500);
      }
    }
    expect(await api.deps.db.select({ n: count() }).from(sessions)).toEqual(before);
  });

  test("error: a transfer to a username made of SQL or LIKE wildcards finds nobody and queues nothing", async () => {
    const before = await api.deps.db.select({ n: count() }).from(txRequests);
    for (const [index, payload] of payloads.entries()) {
      const result = await api.mutation(
        "account.transfer",
        { to: payload, currency: "eth", amount: "1000", idempotencyKey: `owasp-sqli-${index}` },
        alice.headers,
      );
      expect([400, 404], payload).toContain(result.status);
    }
    expect(await api.deps.db.select({ n: count() }).from(txRequests)).toEqual(before);
  });

  test("behavior: a password and a revocation reason full of SQL are stored and used verbatim", async () => {
    const password = "x' OR '1'='1'; DROP TABLE users; -- ";
    const created = await api.mutation("auth.register", {
      username: "bobby",
      email: "bobby@example.org",
      password,
    });
    expect(created.status).toBe(200);
    expect((await api.mutation("auth.login", { login: "bobby", password })).status).toBe(200);
    expect((await api.mutation("auth.login", { login: "bobby", password: "x" })).status).toBe(401);

    const reason = "Robert'); DROP TABLE certificates; -- <script>alert(1)</script>";
    const invalidated = await api.mutation(
      "certificates.invalidate",
      { tokenId: 1, reason, idempotencyKey: "owasp-reason" },
      uni.headers,
    );
    expect(invalidated.status).toBe(200);
    const [request] = await api.deps.db
      .select()
      .from(txRequests)
      .where(eq(txRequests.id, invalidated.body.result.data.requestId));
    expect(request?.payload).toEqual({ tokenId: "1", reason });
    expect(await api.deps.db.select({ n: count() }).from(certificates)).toEqual([{ n: 1 }]);
  });
});

describe("API7 server-side request forgery: no user-supplied URL is ever fetched", () => {
  let canary: Server;
  const hits: string[] = [];

  beforeAll(async () => {
    canary = createServer((request, response) => {
      hits.push(`${request.method} ${request.url}`);
      response.end("{}");
    });
    await new Promise<void>((resolve) => canary.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => canary.close(() => resolve())));

  test("behavior: URLs in every string field of every procedure, and in a certificate's metadata, reach nothing", async () => {
    const { port } = canary.address() as AddressInfo;
    const urls = [`http://127.0.0.1:${port}/field`, `//127.0.0.1:${port}/relative`];
    const accounts = { public: null, user: alice, issuer: uni, admin: root };
    let calls = 0;
    for (const [path, procedure] of Object.entries(appRouter._def.procedures)) {
      const entry = access[path];
      // Logging out would end the session the next calls use; they take no input anyway.
      if (!entry || path === "auth.logout" || path === "auth.logoutAll") continue;
      const base = (entry.input ?? {}) as Record<string, unknown>;
      const headers = accounts[entry.level]?.headers ?? {};
      for (const key of inputKeys(procedure)) {
        for (const url of urls) {
          const input = { ...base, [key]: url };
          await (entry.kind === "mutation" ? api.mutation : api.query)(path, input, headers);
          calls++;
        }
      }
    }
    // A certificate whose metadata and recipient carry URLs, through the multipart upload.
    const form = new FormData();
    form.set("recipient", alice.wallet);
    form.set("recipientName", `http://127.0.0.1:${port}/recipient`);
    form.set("name", `http://127.0.0.1:${port}/name`);
    form.set("description", `see http://127.0.0.1:${port}/description`);
    form.set("idempotencyKey", "owasp-ssrf-create");
    const link = JSON.stringify({
      image: `http://127.0.0.1:${port}/image`,
      external_url: `http://127.0.0.1:${port}/x`,
    });
    form.set("document", new File([link], "doc.json", { type: "application/json" }));
    const created = await api.app.request("/api/certificates/create", {
      method: "POST",
      headers: uni.headers,
      body: form,
    });
    expect(created.status).toBe(200);

    expect(calls).toBeGreaterThan(50);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hits).toEqual([]);
  });
});

describe("API8 security misconfiguration: every kind of answer is locked down", () => {
  const routes = [
    ["tRPC query", "/trpc/certificates.get?input=%7B%22tokenId%22%3A1%7D"],
    ["REST read", "/api/certificates/1"],
    ["REST 404", "/api/certificates/999999"],
    ["unknown path", "/no/such/path"],
    ["HTML page", "/verify/1"],
    ["API reference", "/docs"],
    ["OpenAPI document", "/api/openapi.json"],
    ["health", "/healthz"],
  ] as const;

  test.each(routes)(
    "default: %s carries nosniff, no framing, a referrer policy and no server banner",
    async (_, path) => {
      const response = await api.app.request(path);
      expect(response.status).toBeLessThan(500);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(response.headers.get("x-powered-by")).toBeNull();
      expect(response.headers.get("server")).toBeNull();
      if (response.headers.get("content-type")?.startsWith("text/html")) {
        expect(response.headers.get("content-security-policy")).toMatch(/default-src 'self'|default-src 'none'/);
      }
      expect(await response.text()).not.toMatch(/\bat .+\.(ts|js):\d+/);
    },
  );

  test("error: an origin outside CORS_ORIGINS is given no CORS grant", async () => {
    const preflight = await api.app.request("/trpc/certificates.get", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("API4 unrestricted resource consumption: every list has a page size limit", () => {
  test.each([
    ["certificates.list", {}],
    ["market.listings", {}],
    ["account.transactions", {}],
  ])("error: %s refuses a page of 10,000", async (path, input) => {
    const result = await api.query(path, { ...input, limit: 10_000 }, bearer(alice.token));
    expect(result.status).toBe(400);
    expect(result.body.error.message).toMatch(/limit: must be at most \d+/);
  });
});
