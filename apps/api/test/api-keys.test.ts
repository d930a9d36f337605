import type { AddressInfo } from "node:net";
import { type ApiKeyCredentials, type CertchainClient, createClient, signatureHeaders } from "@certchain/client";
import { apiKeys, txRequests } from "@certchain/db";
import { decryptApiKeySecret } from "@certchain/queue";
import { type ServerType, serve } from "@hono/node-server";
import { TRPCClientError } from "@trpc/client";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AppRouter } from "../src/root.ts";
import { createTestApi, signUp, type TestAccount, type TestApi, type TrpcResult } from "./helpers.ts";

/**
 * API keys for server-to-server clients over real HTTP: an admin creates a key (its secret shown once), and a client
 * given `apiKey` signs every request with it (HMAC over method, path, timestamp, nonce and body hash). A signed request
 * acts as the key's owner within the key's scopes; a wrong, tampered, replayed, stale or revoked signature is a 401
 * naming the problem, a call outside the scopes a 403.
 */
let api: TestApi;
let server: ServerType;
let url: string;
let admin: TestAccount;
let issuer: TestAccount;
let holder: TestAccount;
/** The issuer's key with every scope but `admin`, used by most tests. */
let issuerKey: ApiKeyCredentials;

const encoder = new TextEncoder();

beforeAll(async () => {
  api = await createTestApi();
  server = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  admin = await signUp(api, "key_admin", "admin");
  issuer = await signUp(api, "key_issuer", "issuer");
  holder = await signUp(api, "key_holder", "user");
  issuerKey = await createKey({
    name: "issuing service",
    scopes: ["read", "certificates:write", "account:write"],
    userId: issuer.id,
  });
  // The issuer's wallet can pay for a transfer.
  await api.deps.chain.client.request({
    method: "anvil_setBalance" as never,
    params: [issuer.wallet, "0xde0b6b3a7640000"] as never,
  });
});

afterAll(async () => {
  if ("closeAllConnections" in server) server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await api.close();
});

async function createKey(input: { name: string; scopes: string[]; userId?: number }): Promise<ApiKeyCredentials> {
  const result = await api.mutation("admin.createApiKey", input, admin.headers);
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  const { keyId, secret } = result.body.result.data;
  return { id: keyId, secret };
}

/** A signed request built by hand, so a test can change what was signed or what is sent. */
async function signedRequest(
  key: ApiKeyCredentials,
  path: string,
  options: {
    method?: string;
    body?: string;
    /** Sign this body but send `body`. */
    signedBody?: string;
    sign?: { timestamp?: number; nonce?: string };
    headers?: Record<string, string>;
  } = {},
): Promise<TrpcResult & { signed: Record<string, string> }> {
  const method = options.method ?? (options.body === undefined ? "GET" : "POST");
  const signed = await signatureHeaders(
    key,
    { method, url: `${url}${path}`, body: encoder.encode(options.signedBody ?? options.body ?? "") },
    options.sign,
  );
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...signed, ...options.headers },
    body: options.body,
  });
  return { status: response.status, body: await response.json(), headers: response.headers, signed };
}

const profilePath = "/trpc/auth.profile";
const messageOf = (result: TrpcResult): string | undefined => result.body.error?.message;
const errorMessageOf = async (response: Response): Promise<string> =>
  ((await response.json()) as { error: { message: string } }).error.message;

async function clientError(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  return error as TRPCClientError<AppRouter>;
}

describe("signed requests through the typed client", () => {
  let client: CertchainClient;
  beforeAll(() => {
    client = createClient({ url, apiKey: issuerKey });
  });

  test("default: a key's client reads and mutates as the key's owner", async () => {
    expect(await client.auth.profile.query()).toMatchObject({ id: issuer.id, username: "key_issuer" });
    const { requestId } = await client.account.transfer.mutate({
      to: "key_holder",
      currency: "eth",
      amount: "1",
      idempotencyKey: "signed-transfer",
    });
    const [row] = await api.deps.db.select().from(txRequests).where(eq(txRequests.id, requestId));
    expect(row).toMatchObject({ kind: "eth_transfer", userId: issuer.id, fromAddress: issuer.wallet });
  });

  test("behavior: calls made together go as one signed batch", async () => {
    const sent: string[] = [];
    const counting = createClient({
      url,
      apiKey: issuerKey,
      fetch: (input, init) => {
        sent.push(String(input));
        return fetch(input, init);
      },
    });
    const [profile, page, balance] = await Promise.all([
      counting.auth.profile.query(),
      counting.certificates.list.query({}),
      counting.account.balance.query(),
    ]);
    expect(profile.username).toBe("key_issuer");
    expect(page.items).toEqual([]);
    expect(balance).toBeDefined();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain("auth.profile,certificates.list,account.balance");
  });

  test("behavior: a signed multipart upload (certificates.create) reaches the procedure intact", async () => {
    const form = new FormData();
    form.append("recipientUserId", String(holder.id));
    form.append("name", "Signed diploma");
    form.append("document", new File([`%PDF-1.7\n% signed upload\n%%EOF\n`], "d.pdf", { type: "application/pdf" }));
    form.append("idempotencyKey", "signed-create");
    const { requestId, documentCid } = await client.certificates.create.mutate(form);
    const [row] = await api.deps.db.select().from(txRequests).where(eq(txRequests.id, requestId));
    expect(row).toMatchObject({ kind: "issue", userId: issuer.id, fromAddress: issuer.wallet });
    const stored = await fetch(`${url}/ipfs/${documentCid}`);
    expect(await stored.text()).toBe("%PDF-1.7\n% signed upload\n%%EOF\n");
  });

  test("behavior: a subscription (SSE) is signed at connection", async () => {
    const { requestId } = await client.account.transfer.mutate({
      to: "key_holder",
      currency: "eth",
      amount: "2",
      idempotencyKey: "signed-transfer-followed",
    });
    const status = await new Promise<string>((resolve, reject) => {
      const subscription = client.tx.onStatus.subscribe(
        { requestId },
        {
          onData: (update) => {
            subscription.unsubscribe();
            resolve(update.status);
          },
          onError: reject,
        },
      );
    });
    expect(status).toBe("queued");
  });

  test("behavior: REST paths take signed requests too, and refuse bad ones in their error shape", async () => {
    const result = await signedRequest(issuerKey, "/api/auth/profile");
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ username: "key_issuer" });
    const forged = await signedRequest({ ...issuerKey, secret: "cks_forged" }, "/api/auth/profile");
    expect(forged.status).toBe(401);
    expect(forged.body.error).toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringMatching(/^Signature does/),
    });
  });

  test("behavior: a signed write is not a cookie write, so a stray cookie from a foreign origin is no CSRF refusal", async () => {
    const result = await signedRequest(issuerKey, "/trpc/certificates.invalidate", {
      body: JSON.stringify({ tokenId: 424242, reason: "csrf check", idempotencyKey: "signed-csrf" }),
      headers: { cookie: `certchain_session=${admin.token}`, origin: "https://evil.example" },
    });
    // Past the CSRF check and acting as the key's owner, not the cookie's: no such certificate.
    expect(result.status, JSON.stringify(result.body)).toBe(404);
  });

  test("behavior: the key's last use is recorded", async () => {
    const [row] = await api.deps.db.select().from(apiKeys).where(eq(apiKeys.keyId, issuerKey.id));
    expect(row?.lastUsedAt).toBeInstanceOf(Date);
  });
});

describe("refused signatures", () => {
  test("error: a signature made with the wrong secret is a 401", async () => {
    const forged = { id: issuerKey.id, secret: `cks_${"A".repeat(43)}` };
    const error = await clientError(createClient({ url, apiKey: forged }).auth.profile.query());
    expect(error.data?.code).toBe("UNAUTHORIZED");
    expect(error.message).toMatch(/Signature does not match the request/);
    const raw = await signedRequest(forged, profilePath);
    expect(raw.status).toBe(401);
  });

  test("error: a body changed after signing is a 401", async () => {
    const input = { tokenId: 424242, reason: "tampered", idempotencyKey: "signed-tamper" };
    const result = await signedRequest(issuerKey, "/trpc/certificates.invalidate", {
      signedBody: JSON.stringify(input),
      body: JSON.stringify({ ...input, tokenId: 1 }),
    });
    expect(result.status).toBe(401);
    expect(messageOf(result)).toMatch(/Signature does not match the request/);
  });

  test("error: replaying a request (same nonce) is a 401", async () => {
    const first = await signedRequest(issuerKey, profilePath);
    expect(first.status).toBe(200);
    const replay = await fetch(`${url}${profilePath}`, { headers: first.signed });
    expect(replay.status).toBe(401);
    expect(await errorMessageOf(replay)).toMatch(/Nonce already used/);
  });

  test.each([
    ["more than 5 minutes old", -301],
    ["more than 5 minutes ahead", 301],
  ])("error: a timestamp %s is a 401", async (_case, offset) => {
    const result = await signedRequest(issuerKey, profilePath, {
      sign: { timestamp: Math.floor(Date.now() / 1000) + offset },
    });
    expect(result.status).toBe(401);
    expect(messageOf(result)).toMatch(/Signature timestamp outside the 5-minute window/);
  });

  test("error: a revoked key is a 401, from the next request on", async () => {
    const key = await createKey({ name: "short-lived", scopes: ["read"], userId: holder.id });
    expect((await signedRequest(key, profilePath)).status).toBe(200);
    const revoked = await api.mutation("admin.revokeApiKey", { keyId: key.id }, admin.headers);
    expect(revoked.body.result.data).toMatchObject({ keyId: key.id, revokedAt: expect.any(String) });
    const result = await signedRequest(key, profilePath);
    expect(result.status).toBe(401);
    expect(messageOf(result)).toBe(`API key ${key.id} has been revoked`);
  });

  test("error: missing signature headers and unknown keys are named", async () => {
    const missing = await fetch(`${url}${profilePath}`, { headers: { "x-certchain-key": issuerKey.id } });
    expect(missing.status).toBe(401);
    expect(await errorMessageOf(missing)).toBe(
      "Signed request is missing X-Certchain-Timestamp, X-Certchain-Nonce, X-Certchain-Signature",
    );
    const unknown = await signedRequest({ id: "ck_aaaaaaaaaaaaaaaaaaaa", secret: issuerKey.secret }, profilePath);
    expect(unknown.status).toBe(401);
    expect(messageOf(unknown)).toBe("Unknown API key ck_aaaaaaaaaaaaaaaaaaaa");
  });

  test("error: a failed signature does not spend its nonce", async () => {
    const nonce = `nonce-${Math.random().toString(36).slice(2)}-kept`;
    const wrong = await signedRequest({ ...issuerKey, secret: "cks_wrong" }, profilePath, { sign: { nonce } });
    expect(wrong.status).toBe(401);
    const right = await signedRequest(issuerKey, profilePath, { sign: { nonce } });
    expect(right.status).toBe(200);
  });
});

describe("scopes", () => {
  test("error: a procedure outside the key's scopes is a 403 naming the scope", async () => {
    const readOnly = createClient({
      url,
      apiKey: await createKey({ name: "reader", scopes: ["read"], userId: issuer.id }),
    });
    expect((await readOnly.auth.profile.query()).id).toBe(issuer.id);
    const error = await clientError(
      readOnly.account.transfer.mutate({ to: "key_holder", currency: "eth", amount: "1", idempotencyKey: "ro-send" }),
    );
    expect(error.data?.code).toBe("FORBIDDEN");
    expect(error.message).toMatch(/lacks the scope "account:write" that account.transfer needs/);
    const rows = await api.deps.db.select().from(txRequests).where(eq(txRequests.idempotencyKey, "ro-send"));
    expect(rows).toEqual([]);
  });

  test("error: session-only procedures (logout, key management) are a 403 with any key", async () => {
    const adminKey = createClient({
      url,
      apiKey: await createKey({ name: "admin service", scopes: ["read", "admin"] }),
    });
    const errors = await Promise.all(
      [
        adminKey.auth.logout.mutate(),
        adminKey.admin.createApiKey.mutate({ name: "escalation", scopes: ["read"] }),
        adminKey.admin.listApiKeys.query(),
      ].map(clientError),
    );
    for (const error of errors) {
      expect(error.data?.code).toBe("FORBIDDEN");
      expect(error.message).toMatch(/cannot be called with an API key/);
    }
  });

  test("error: scopes narrow the owner's role, never widen it", async () => {
    const userKey = createClient({
      url,
      apiKey: await createKey({ name: "overreaching", scopes: ["certificates:write"], userId: holder.id }),
    });
    const error = await clientError(
      userKey.certificates.create.mutate({
        recipientUserId: holder.id,
        name: "self-issued",
        documentCid: "bafkqaaa",
        idempotencyKey: "holder-create",
      }),
    );
    expect(error.data?.code).toBe("FORBIDDEN");
    expect(error.message).toBe("Only issuers can do this");
  });
});

describe("key management", () => {
  test("default: listApiKeys shows each key's owner, scopes and state, never a secret", async () => {
    const result = await api.query("admin.listApiKeys", { userId: issuer.id }, admin.headers);
    expect(result.status).toBe(200);
    const keys = result.body.result.data;
    const issuing = keys.find((key: { keyId: string }) => key.keyId === issuerKey.id);
    expect(issuing).toEqual({
      keyId: issuerKey.id,
      name: "issuing service",
      scopes: ["read", "certificates:write", "account:write"],
      userId: issuer.id,
      username: "key_issuer",
      createdByUserId: admin.id,
      createdAt: expect.any(String),
      lastUsedAt: expect.any(String),
      revokedAt: null,
    });
    const all = await api.query("admin.listApiKeys", undefined, admin.headers);
    const text = JSON.stringify(all.body);
    expect(text).not.toContain(issuerKey.secret);
    expect(text).not.toContain("cks_");
  });

  test("behavior: the secret is stored encrypted under the master key, never in the clear", async () => {
    const [[row]] = (await api.deps.db.execute(
      sql`SELECT * FROM api_keys WHERE key_id = ${issuerKey.id}`,
    )) as unknown as [Array<Record<string, unknown>>];
    expect(row).toBeDefined();
    const secretBytes = Buffer.from(issuerKey.secret);
    for (const [column, value] of Object.entries(row ?? {})) {
      const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value));
      expect(bytes.includes(secretBytes), column).toBe(false);
      expect(bytes.toString("latin1"), column).not.toContain(issuerKey.secret.slice(4, 20));
    }
    const [stored] = await api.deps.db.select().from(apiKeys).where(eq(apiKeys.keyId, issuerKey.id));
    expect(stored && decryptApiKeySecret(stored, api.deps.config.masterKeys)).toBe(issuerKey.secret);
  });

  test("error: keys are only for existing users, with known scopes", async () => {
    const noUser = await api.mutation(
      "admin.createApiKey",
      { name: "x", scopes: ["read"], userId: 424242 },
      admin.headers,
    );
    expect(noUser.status).toBe(404);
    const badScope = await api.mutation("admin.createApiKey", { name: "x", scopes: ["everything"] }, admin.headers);
    expect(badScope.status).toBe(400);
    expect(badScope.body.error.message).toMatch(/^scopes\.0: /);
  });

  test("error: only admins manage keys", async () => {
    const result = await api.mutation("admin.createApiKey", { name: "mine", scopes: ["read"] }, issuer.headers);
    expect(result.status).toBe(403);
  });
});
