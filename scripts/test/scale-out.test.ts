import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@certchain/client";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import { type DaemonProcess, freePort, startDaemon } from "@certchain/common/testing";
import { ensureDeployment } from "@certchain/contracts";
import { type Anvil, startAnvil } from "@certchain/contracts/anvil";
import { certificates, transactions, txRequests, users } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { eq, inArray } from "drizzle-orm";
import { createPublicClient, createTestClient, http, parseEther } from "viem";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, expect, test } from "vitest";

/**
 * The stack scaled out as docs/deploy.md describes it, on one machine: two API processes (sessions and rate limits
 * shared through MySQL and Redis), two relayers sharing the queue, and an indexer with a standby that takes over when
 * the writer is killed. Users talk to either API at random, through the typed client.
 */
const RATE_LIMIT = 30;
let database: TestDatabase;
let anvil: Anvil;
let deploymentsDir: string;
let storageDir: string;
const apis: string[] = [];
const relayers: Array<{ process: DaemonProcess; url: string }> = [];
const indexers: Array<{ process: DaemonProcess; url: string }> = [];
const all: DaemonProcess[] = [];

async function daemon(entry: string, env: Record<string, string>): Promise<DaemonProcess> {
  const started = await startDaemon(entry, env);
  all.push(started);
  return started;
}

beforeAll(async () => {
  [database, anvil] = await Promise.all([
    createTestDatabase(),
    // Transactions are mined at once and an empty block follows every second, so requests reach their confirmations.
    startAnvil({ blockTime: 1, args: ["--mixed-mining"] }),
  ]);
  deploymentsDir = mkdtempSync(join(tmpdir(), "certchain-scale-deployments-"));
  storageDir = mkdtempSync(join(tmpdir(), "certchain-scale-storage-"));
  await ensureDeployment({
    rpcUrl: anvil.rpcUrl,
    chainId: foundry.id,
    operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
    deploymentsDir,
  });
  const env = {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    DATABASE_URL: database.url,
    REDIS_URL: "redis://127.0.0.1:6379",
    REDIS_PREFIX: `test-scale-${process.pid}`,
    ETH_NODE_URL: anvil.rpcUrl,
    CHAIN_ID: String(foundry.id),
    DEPLOYMENTS_DIR: deploymentsDir,
    // One shared store for both APIs here; on several machines, IPFS_API_URL (docs/deploy.md).
    STORAGE_DIR: storageDir,
    FINALITY_DEPTH: "2",
    MASTER_KEY: "22".repeat(32),
    OPERATOR_PRIVATE_KEY: ANVIL_ACCOUNT_0_PRIVATE_KEY,
    RELAYER_POLL_MS: "100",
    RELAYER_CONCURRENCY: "8",
    RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
    // Each simulated client names its own address, as a load balancer in front would.
    TRUST_PROXY: "1",
  };
  for (let i = 0; i < 2; i += 1) {
    const port = String(await freePort());
    const api = await daemon("apps/api/src/main.ts", { ...env, API_PORT: port });
    apis.push(`http://127.0.0.1:${port}`);
    const relayerPort = String(await freePort());
    const relayer = await daemon("apps/relayer/src/main.ts", { ...env, RELAYER_PORT: relayerPort });
    relayers.push({ process: relayer, url: `http://127.0.0.1:${relayerPort}` });
    await Promise.all([
      api.waitFor(`${apis[i]}/readyz`, 60_000),
      relayer.waitFor(`${relayers[i]?.url}/readyz`, 60_000),
    ]);
  }
  for (let i = 0; i < 2; i += 1) {
    const port = String(await freePort());
    const indexer = await daemon("apps/indexer/src/main.ts", { ...env, INDEXER_PORT: port });
    indexers.push({ process: indexer, url: `http://127.0.0.1:${port}` });
    await indexer.waitFor(`http://127.0.0.1:${port}/healthz`, 60_000);
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(all.map((process) => process.stop()));
  await Promise.all([database?.drop(), anvil?.stop()]);
  rmSync(deploymentsDir, { recursive: true, force: true });
  rmSync(storageDir, { recursive: true, force: true });
});

/** A value of a daemon's Prometheus metric (the sum over its label sets), or 0 when it has none yet. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const lines = text.split("\n").filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`));
  return lines.reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}\n${all.map((process) => process.output()).join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let clientCount = 0;
/** A client on one of the APIs, from an address of its own (X-Forwarded-For, trusted as from a load balancer). */
function clientOn(api: string, token?: string) {
  clientCount += 1;
  const address = `198.51.100.${clientCount}`;
  const fetchFrom: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set("x-forwarded-for", address);
    return fetch(input, { ...init, headers });
  };
  return createClient({ url: api, token, fetch: fetchFrom });
}

test("two APIs, two relayers, an indexer and its standby: sessions, limits and work are shared, nothing is lost or doubled", async () => {
  const [apiA = "", apiB = ""] = apis;

  // Sessions live in MySQL: a token from one API is good on the other, and a logout on either ends it on both.
  const signUp = async (name: string, on: string) => {
    const { token, user } = await clientOn(on).auth.register.mutate({
      username: name,
      email: `${name}@scale.example`,
      password: "scale-out password",
    });
    return { token, user, a: clientOn(apiA, token), b: clientOn(apiB, token) };
  };
  const root = await signUp("root", apiA);
  await database.db.update(users).set({ role: "admin" }).where(eq(users.id, root.user.id));
  expect(await root.b.auth.profile.query()).toMatchObject({ username: "root", role: "admin" });
  const leaving = await signUp("leaving", apiB);
  await leaving.a.auth.logout.mutate();
  await expect(leaving.b.auth.profile.query()).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });

  // The writer lease: exactly one indexer holds it.
  const leaders = async () => Promise.all(indexers.map(({ url }) => metric(url, "certchain_indexer_is_leader")));
  await eventually("one indexer to lead", async () => (await leaders()).sort().join() === "0,1");
  const leader = (await leaders()).indexOf(1);
  const standby = 1 - leader;

  // Work arrives through both APIs: an issuer granted, two certificates, and ETH transfers between six wallets.
  const uni = await signUp("uni", apiB);
  const grant = await root.b.admin.grantIssuer.mutate({ userId: uni.user.id, idempotencyKey: "scale-grant" });
  const people = await Promise.all(
    ["ann", "ben", "cat", "dan", "eve", "fay"].map((name, i) => signUp(name, apis[i % 2] ?? "")),
  );
  const chain = createTestClient({ mode: "anvil", chain: foundry, transport: http(anvil.rpcUrl) });
  for (const person of people) {
    await chain.setBalance({ address: person.user.walletAddress as `0x${string}`, value: parseEther("10") });
  }
  const requestIds: string[] = [grant.requestId];
  for (let round = 0; round < 4; round += 1) {
    for (const [i, person] of people.entries()) {
      const to = people[(i + 1 + round) % people.length]?.user.username ?? "";
      const client = (round + i) % 2 === 0 ? person.a : person.b;
      const sent = await client.account.transfer.mutate({
        to,
        currency: "eth",
        amount: String(1_000 + round),
        idempotencyKey: `scale-transfer-${round}`,
      });
      requestIds.push(sent.requestId);
    }
    // Halfway through, the writing indexer dies without warning; the standby must take over.
    if (round === 1) await indexers[leader]?.process.kill9();
  }
  await eventually(
    "the standby to take over",
    async () => (await metric(indexers[standby]?.url ?? "", "certchain_indexer_is_leader")) === 1,
    30_000,
  );

  // Certificates need the issuer role on chain first.
  await eventually(
    "the grant to be confirmed",
    async () => (await root.a.tx.status.query({ requestId: grant.requestId })).status === "confirmed",
  );
  for (const [i, owner] of people.slice(0, 2).entries()) {
    const form = new FormData();
    form.append("recipientUserId", String(owner.user.id));
    form.append("name", `Scale-out diploma ${i}`);
    form.append("document", new File([`%PDF-1.7\n% scale ${i}\n%%EOF\n`], "d.pdf", { type: "application/pdf" }));
    form.append("idempotencyKey", `scale-issue-${i}`);
    requestIds.push((await (i === 0 ? uni.a : uni.b).certificates.create.mutate(form)).requestId);
  }

  // Every request ends confirmed, once.
  const rows = await eventually(
    "every request to be confirmed",
    async () => {
      const found = await database.db.select().from(txRequests).where(inArray(txRequests.id, requestIds));
      const failed = found.filter((row) => row.status === "failed");
      if (failed.length > 0) throw new Error(`failed: ${JSON.stringify(failed.map((row) => row.errorCode))}`);
      return found.length === requestIds.length && found.every((row) => row.status === "confirmed") && found;
    },
    120_000,
  );
  const hashes = rows.map((row) => row.txHash);
  expect(new Set(hashes).size).toBe(rows.length);

  // No nonce used twice and none skipped: each wallet's chain nonce equals the transactions it was asked to send.
  const reader = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
  for (const person of people) {
    const sent = rows.filter((row) => row.fromAddress === person.user.walletAddress).length;
    expect(await reader.getTransactionCount({ address: person.user.walletAddress as `0x${string}` })).toBe(sent);
  }

  // Both relayers did part of the work.
  const sends = await Promise.all(relayers.map(({ url }) => metric(url, "relayer_sends_total")));
  expect(
    sends.every((count) => count > 0),
    `sends per relayer: ${sends}`,
  ).toBe(true);

  // The standby indexed everything, across the takeover, exactly once.
  const indexed = await eventually("every transaction to be indexed as completed", async () => {
    const found = await database.db
      .select()
      .from(transactions)
      .where(inArray(transactions.txHash, hashes as `0x${string}`[]));
    return found.length >= rows.length && found.every((row) => row.status === "completed") && found;
  });
  expect(indexed.map((row) => row.txHash).sort()).toEqual([...hashes].sort());
  const issued = await database.db.select().from(certificates);
  expect(issued.map((row) => row.ownerAddress).sort()).toEqual(
    people
      .slice(0, 2)
      .map((person) => person.user.walletAddress)
      .sort(),
  );

  // Rate limits live in Redis: one client's budget is spent across both APIs, not once per process.
  const outcomes: number[] = [];
  for (let i = 0; i < RATE_LIMIT + 10; i += 1) {
    const response = await fetch(`${apis[i % 2]}/api/market/listings`, {
      headers: { "x-forwarded-for": "203.0.113.9" },
    });
    outcomes.push(response.status);
    if (response.status === 429) expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
  }
  expect(outcomes.filter((status) => status === 200)).toHaveLength(RATE_LIMIT);
  expect(outcomes.filter((status) => status === 429)).toHaveLength(10);
}, 300_000);
