import { ANVIL_ACCOUNT_0_PRIVATE_KEY, createLogger, createShutdown } from "@certchain/common";
import { certificateRegistryAbi, marketplaceAbi, reorgAnvil } from "@certchain/contracts";
import { certificates } from "@certchain/db";
import { createIndexer, createMetrics, type Indexer } from "@certchain/indexer";
import { type CacheInvalidator, cacheKeys, createCacheInvalidator } from "@certchain/queue";
import { eq } from "drizzle-orm";
import { Redis } from "ioredis";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  type Hash,
  http,
  parseEther,
  parseEventLogs,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createApp } from "../src/app.ts";
import { createReadCaches, type ReadCaches } from "../src/cache.ts";
import { createBalanceReader } from "../src/chain/balances.ts";
import type { ApiDeps } from "../src/context.ts";
import { createApiDeps } from "../src/deps.ts";
import { createTestApi, signUp, type TestApi } from "./helpers.ts";

/**
 * The read caches of `certificates.get`, `market.listings` (first pages) and `account.balance`, against real MariaDB,
 * Redis and anvil: two API processes (two sets of dependencies in this process, as two servers would have) share the
 * database and the Redis prefix, and a real indexer, running in-process, follows the chain and invalidates.
 *
 * The shared caches' TTL is a minute, far longer than any test: what makes a change visible there is the indexer's
 * invalidation, never expiry. The TTL bound has its own processes with a short TTL and a Redis prefix the indexer
 * does not publish to.
 */
const LONG_TTL = "60000";
let api: TestApi;
let second: { app: ReturnType<typeof createApp>; deps: ApiDeps };
let indexer: Indexer;
let invalidator: CacheInvalidator;
const closers: Array<() => Promise<void>> = [];
const logger = createLogger({ logLevel: "silent" }, "cache-test");

const operator = privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY);
let chain: ReturnType<typeof createPublicClient>;
let wallet: ReturnType<typeof createWalletClient<ReturnType<typeof http>, typeof foundry, typeof operator>>;

/** A second API process's dependencies: same configuration, database and Redis, caches of its own. */
async function anotherApi(overrides: Partial<ApiDeps["config"]> = {}) {
  const deps = await createApiDeps({ ...api.deps.config, ...overrides }, api.database.db, {
    deployment: api.deployment,
    storage: api.deps.storage,
    onClose: (close) => closers.push(close),
  });
  return { deps, app: createApp(deps) };
}

beforeAll(async () => {
  api = await createTestApi({ CACHE_TTL_MS: LONG_TTL, CACHE_BALANCE_TTL_MS: LONG_TTL });
  second = await anotherApi();
  const transport = http(api.anvil.rpcUrl);
  chain = createPublicClient({ chain: foundry, transport, pollingInterval: 50 });
  wallet = createWalletClient({ chain: foundry, transport, account: operator });
  const { config } = api.deps;
  invalidator = createCacheInvalidator({ redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, logger });
  indexer = createIndexer(
    { config: { ...config, finalityDepth: 2 }, logger, metrics: createMetrics(), shutdown: createShutdown() },
    { deployment: api.deployment, cacheInvalidator: invalidator, pollIntervalMs: 25, leaseTtlMs: 1_000 },
  );
  indexer.run().catch(() => undefined);
}, 60_000);

afterAll(async () => {
  await indexer?.stop();
  await invalidator?.close();
  await Promise.all(closers.map((close) => close()));
  await api?.close();
});

type App = { request: ReturnType<typeof createApp>["request"] };

/** A tRPC query's data (or its HTTP status when it failed). */
async function read(app: App, path: string, input?: unknown, headers: Record<string, string> = {}) {
  const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  const response = await app.request(`http://localhost/trpc/${path}${query}`, { headers });
  const body = (await response.json()) as { result?: { data: unknown } };
  // biome-ignore lint/suspicious/noExplicitAny: procedure outputs, whose shape each test asserts
  return { status: response.status, data: body.result?.data as any };
}

/** `certchain_cache_requests_total` of one cache and result, from the app's `/metrics`. */
async function cacheCount(app: App, cache: string, result: string): Promise<number> {
  const text = await (await app.request("/metrics")).text();
  const line = new RegExp(`^certchain_cache_requests_total\\{cache="${cache}",result="${result}"\\} (\\d+)$`, "m");
  return Number(text.match(line)?.[1] ?? 0);
}

/** Sends a transaction from the operator and waits until the indexer has committed its block. */
async function onChain(send: () => Promise<Hash>) {
  const receipt = await chain.waitForTransactionReceipt({ hash: await send() });
  expect(receipt.status).toBe("success");
  await indexed(Number(receipt.blockNumber));
  return receipt;
}

async function indexed(block: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = indexer.status();
    if (status.failure) throw status.failure;
    if ((status.indexedBlock ?? -1) >= block) return;
    if (Date.now() > deadline) throw new Error(`indexer did not reach block ${block} (at ${status.indexedBlock})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the indexer's committed tip is the node's current head block (after a reorg: the new one). */
async function indexedTip(): Promise<void> {
  const head = await chain.getBlock();
  const deadline = Date.now() + 30_000;
  for (;;) {
    await indexed(Number(head.number));
    const [rows] = await indexer.db.pool.query("SELECT block_hash FROM indexer_cursor");
    if ((rows as Array<{ block_hash: string }>)[0]?.block_hash === head.hash) return;
    if (Date.now() > deadline) throw new Error(`indexer did not reach block ${head.hash}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let cids = 0;
/** Issues a certificate from the operator (an issuer since deployment) to `to`, indexed; its token id. */
async function issue(to: Address = operator.address): Promise<number> {
  const receipt = await onChain(() =>
    wallet.writeContract({
      address: api.deployment.contracts.CertificateRegistry.address,
      abi: certificateRegistryAbi,
      functionName: "issue",
      args: [to, `bafkreicachetest${++cids}`, 0n],
    }),
  );
  const [issued] = parseEventLogs({ abi: certificateRegistryAbi, logs: receipt.logs, eventName: "CertificateIssued" });
  return Number(issued?.args.tokenId);
}

const withoutConfirmations = ({ confirmations: _, ...rest }: Record<string, unknown>) => rest;

describe("shared by two API processes, invalidated by the indexer", () => {
  test("default: a repeated read comes from memory, the other process's first one from Redis", async () => {
    const tokenId = await issue();
    const before = {
      memory: await cacheCount(api.app, "certificates", "hit_memory"),
      miss: await cacheCount(api.app, "certificates", "miss"),
      redis: await cacheCount(second.app, "certificates", "hit_redis"),
    };
    const first = await read(api.app, "certificates.get", { tokenId });
    expect(first.status).toBe(200);
    expect(first.data).toMatchObject({ tokenId, status: "valid", valid: true, owner: operator.address.toLowerCase() });
    const again = await read(api.app, "certificates.get", { tokenId });
    const elsewhere = await read(second.app, "certificates.get", { tokenId });
    expect(withoutConfirmations(again.data)).toEqual(withoutConfirmations(first.data));
    expect(withoutConfirmations(elsewhere.data)).toEqual(withoutConfirmations(first.data));
    expect(await cacheCount(api.app, "certificates", "miss")).toBe(before.miss + 1);
    expect(await cacheCount(api.app, "certificates", "hit_memory")).toBe(before.memory + 1);
    expect(await cacheCount(second.app, "certificates", "hit_redis")).toBe(before.redis + 1);
    // The REST path is the same procedure, so the same cache.
    const rest = await api.app.request(`/api/certificates/${tokenId}`);
    expect(rest.status).toBe(200);
    expect(await cacheCount(api.app, "certificates", "hit_memory")).toBe(before.memory + 2);
  });

  test("behavior: a revocation shows on both processes as soon as the indexer has committed it", async () => {
    const tokenId = await issue();
    for (const app of [api.app, second.app, api.app, second.app]) {
      expect((await read(app, "certificates.get", { tokenId })).data).toMatchObject({ status: "valid" });
    }
    await onChain(() =>
      wallet.writeContract({
        address: api.deployment.contracts.CertificateRegistry.address,
        abi: certificateRegistryAbi,
        functionName: "revoke",
        args: [BigInt(tokenId), "issued in error"],
      }),
    );
    for (const app of [api.app, second.app]) {
      expect((await read(app, "certificates.get", { tokenId })).data).toMatchObject({
        status: "invalid",
        valid: false,
        revocationReason: "issued in error",
      });
    }
  });

  test("behavior: a reorg that removes a revocation shows the certificate valid again on both processes", async () => {
    const tokenId = await issue();
    await onChain(() =>
      wallet.writeContract({
        address: api.deployment.contracts.CertificateRegistry.address,
        abi: certificateRegistryAbi,
        functionName: "revoke",
        args: [BigInt(tokenId), "revoked in a block about to be orphaned"],
      }),
    );
    for (const app of [api.app, second.app, api.app, second.app]) {
      expect((await read(app, "certificates.get", { tokenId })).data).toMatchObject({ status: "invalid" });
    }
    // The revocation's block is replaced by an empty one at the same height; the indexer undoes the revocation.
    await reorgAnvil((method, params) => chain.request({ method, params } as never), 1);
    await indexedTip();
    for (const app of [api.app, second.app]) {
      expect((await read(app, "certificates.get", { tokenId })).data).toMatchObject({
        status: "valid",
        revocationReason: null,
      });
    }
  });

  test("behavior: a new listing shows on the first pages of both processes once indexed", async () => {
    const tokenId = await issue();
    const pages = [{}, { sort: "price_asc" }, { tokenId }] as const;
    for (const app of [api.app, second.app]) {
      for (const input of pages) {
        expect((await read(app, "market.listings", input)).data.items).not.toContainEqual(
          expect.objectContaining({ tokenId }),
        );
      }
    }
    const before = await cacheCount(api.app, "listings", "hit_memory");
    await read(api.app, "market.listings", {});
    expect(await cacheCount(api.app, "listings", "hit_memory")).toBe(before + 1);

    const { Marketplace, CertificateRegistry } = api.deployment.contracts;
    await onChain(() =>
      wallet.writeContract({
        address: CertificateRegistry.address,
        abi: certificateRegistryAbi,
        functionName: "approve",
        args: [Marketplace.address, BigInt(tokenId)],
      }),
    );
    await onChain(() =>
      wallet.writeContract({
        address: Marketplace.address,
        abi: marketplaceAbi,
        functionName: "list",
        args: [BigInt(tokenId), zeroAddress, parseEther("0.5")],
      }),
    );
    for (const app of [api.app, second.app]) {
      for (const input of pages) {
        expect((await read(app, "market.listings", input)).data.items).toContainEqual(
          expect.objectContaining({ tokenId, price: parseEther("0.5").toString(), status: "active" }),
        );
      }
    }
  });

  test("behavior: a wallet's balance is read again once the indexer records a transaction of it", async () => {
    const user = await signUp(api, "cached_balance", "user");
    const balance = async (app: App) => (await read(app, "account.balance", undefined, user.headers)).data;
    for (const app of [api.app, second.app]) expect(await balance(app)).toMatchObject({ eth: "0" });
    const before = await cacheCount(api.app, "balances", "hit_memory");
    await balance(api.app);
    expect(await cacheCount(api.app, "balances", "hit_memory")).toBe(before + 1);

    await onChain(() => wallet.sendTransaction({ to: user.wallet, value: parseEther("2") }));
    for (const app of [api.app, second.app]) {
      expect(await balance(app)).toMatchObject({ eth: parseEther("2").toString() });
    }
  });
});

/** A certificate row written straight to the database, as no indexer would: only the TTL can refresh it. */
async function insertCertificate(tokenId: number, cid: string) {
  await api.deps.db.insert(certificates).values({
    tokenId,
    ownerAddress: "0x00000000000000000000000000000000000000aa",
    issuerAddress: "0x00000000000000000000000000000000000000bb",
    ipfsHash: cid,
    status: "valid",
    issuedAt: new Date("2024-01-01T00:00:00Z"),
    issueTxHash: `0x${tokenId.toString(16).padStart(64, "0")}`,
    issuedBlockNumber: 1,
    blockNumber: 1,
    blockHash: `0x${"ab".repeat(32)}`,
    logIndex: 0,
  });
}
const setCid = (tokenId: number, cid: string) =>
  api.deps.db.update(certificates).set({ ipfsHash: cid }).where(eq(certificates.tokenId, tokenId));

describe("bounds", () => {
  test("behavior: no answer outlives CACHE_TTL_MS, not even one another process took from Redis", async () => {
    const ttlMs = 2_000;
    // Their own Redis prefix: the indexer's invalidations never reach them, as if every message were lost.
    const isolated = { cacheTtlMs: ttlMs, redisPrefix: `${api.deps.config.redisPrefix}-ttl` };
    const [one, two] = [await anotherApi(isolated), await anotherApi(isolated)];
    await insertCertificate(900_001, "bafkreifirst");
    const get = async (app: App) => (await read(app, "certificates.get", { tokenId: 900_001 })).data.cid;

    const loaded = performance.now();
    expect(await get(one.app)).toBe("bafkreifirst");
    await new Promise((resolve) => setTimeout(resolve, ttlMs / 3));
    expect(await get(two.app)).toBe("bafkreifirst");
    expect(await cacheCount(two.app, "certificates", "hit_redis")).toBe(1);
    await setCid(900_001, "bafkreisecond");
    // Still the cached answer (the row changed behind every indexer's back)…
    expect(await get(two.app)).toBe("bafkreifirst");
    expect(await get(one.app)).toBe("bafkreifirst");
    expect(performance.now() - loaded).toBeLessThan(ttlMs);
    // …until the TTL counted from the first load has passed, in both processes: the second one's copy from Redis
    // expires with the original, not a TTL after it was copied.
    await new Promise((resolve) => setTimeout(resolve, ttlMs - (performance.now() - loaded) + 50));
    expect(await get(two.app)).toBe("bafkreisecond");
    expect(await get(one.app)).toBe("bafkreisecond");
  });

  test("behavior: with the cache's Redis unreachable, reads are answered from the database at once", async () => {
    const dead = createReadCaches({ ...api.deps.config, redisUrl: "redis://127.0.0.1:1" }, logger);
    closers.push(() => dead.close());
    const { client, contracts } = api.deps.chain;
    const app = createApp({
      ...api.deps,
      cache: dead,
      balances: createBalanceReader(client, contracts.PaymentToken.address, dead.balances),
    });
    await insertCertificate(900_002, "bafkreiredisdown");
    const started = performance.now();
    expect((await read(app, "certificates.get", { tokenId: 900_002 })).data).toMatchObject({
      tokenId: 900_002,
      cid: "bafkreiredisdown",
    });
    // Nothing is kept in memory either: no invalidation could reach it.
    await setCid(900_002, "bafkreiredisdown2");
    expect((await read(app, "certificates.get", { tokenId: 900_002 })).data.cid).toBe("bafkreiredisdown2");
    expect((await read(app, "certificates.get", { tokenId: 999_999 })).status).toBe(404);
    expect((await read(app, "market.listings", {})).status).toBe(200);
    const user = await signUp(api, "redis_down", "user");
    expect((await read(app, "account.balance", undefined, user.headers)).data).toMatchObject({ eth: "0" });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await cacheCount(app, "certificates", "miss")).toBe(3);
    expect(await cacheCount(app, "certificates", "hit_memory")).toBe(0);
  });
});

describe("the cache itself", () => {
  let caches: ReadCaches;
  let redisPrefix: string;
  beforeAll(async () => {
    redisPrefix = `${api.deps.config.redisPrefix}-unit`;
    caches = createReadCaches(
      { redisUrl: api.deps.config.redisUrl, redisPrefix, cacheTtlMs: 60_000, cacheBalanceTtlMs: 60_000 },
      logger,
    );
    closers.push(() => caches.close());
    await caches.ready();
  });

  const deferred = <T>() => {
    let resolve: (value: T) => void = () => {};
    const promise = new Promise<T>((done) => {
      resolve = done;
    });
    return { promise, resolve };
  };

  test("behavior: concurrent misses of one key share one load", async () => {
    let loads = 0;
    const gate = deferred<{ n: number }>();
    const load = () => {
      loads++;
      return gate.promise;
    };
    const reads = Array.from({ length: 5 }, () => caches.certificates.get("flight", load));
    gate.resolve({ n: 1 });
    expect(await Promise.all(reads)).toEqual(Array(5).fill({ n: 1 }));
    expect(loads).toBe(1);
    expect(await caches.certificates.get("flight", load)).toEqual({ n: 1 });
    expect(loads).toBe(1);
  });

  test("behavior: a load an invalidation overtakes answers its callers but is not kept", async () => {
    const unitInvalidator = createCacheInvalidator({ redisUrl: api.deps.config.redisUrl, redisPrefix, logger });
    try {
      const gate = deferred<{ v: string }>();
      const pending = caches.certificates.get("overtaken", () => gate.promise);
      expect(await unitInvalidator.invalidate({ keys: { certificates: ["overtaken"] }, flush: [] })).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the message reaches this process
      gate.resolve({ v: "old" });
      expect(await pending).toEqual({ v: "old" });
      expect(await caches.certificates.get("overtaken", async () => ({ v: "new" }))).toEqual({ v: "new" });
    } finally {
      await unitInvalidator.close();
    }
  });

  test("behavior: a Redis copy stamped before an invalidation is never served", async () => {
    const redis = new Redis(api.deps.config.redisUrl);
    try {
      const keys = cacheKeys(redisPrefix);
      // What a slow process would leave behind: the version moved on (the indexer's INCR), its copy carries the old.
      await redis.incr(keys.version("certificates", "late"));
      await redis.set(keys.value("certificates", "late"), JSON.stringify({ s: "0.0", v: { v: "old" } }), "PX", 60_000);
      expect(await caches.certificates.get("late", async () => ({ v: "new" }))).toEqual({ v: "new" });
      // The answer just loaded goes to Redis (without delaying it) under the current stamp, for the other processes.
      await expect
        .poll(async () => JSON.parse((await redis.get(keys.value("certificates", "late"))) ?? "{}"))
        .toEqual({ s: "0.1", v: { v: "new" } });
    } finally {
      redis.disconnect();
    }
  });

  test("behavior: CACHE_TTL_MS=0 turns the cache off", async () => {
    const off = createReadCaches(
      { redisUrl: api.deps.config.redisUrl, redisPrefix, cacheTtlMs: 0, cacheBalanceTtlMs: 0 },
      logger,
    );
    try {
      let loads = 0;
      for (let i = 0; i < 3; i++) await off.certificates.get("off", async () => ({ n: ++loads }));
      expect(loads).toBe(3);
    } finally {
      await off.close();
    }
  });
});
