/**
 * `npm run bench:api`: the API under load on a seeded database, against a bare baseline.
 *
 * 1. Seeds a fresh database (100,000 certificates, 20,000 listings, 50,000 transactions, 1,001 users with sessions)
 *    and deploys the contracts on a fresh anvil, as the API's dependencies need.
 * 2. Runs every list query's procedure in-process, recording the statements at the pool, and prints `EXPLAIN` of each
 *    statement
 *    it sent, flagging any table read without an index or sorted in full.
 * 3. Measures `certificates.get`'s CPU per call layer by layer, in-process (`api/layers.ts`): where the time goes.
 * 4. Baseline: a bare Hono route sending `certificates.get`'s recorded statement with mysql2, as the API sends it (as
 *    text or prepared), from `api/baseline-server.ts`.
 * 5. The real API (`apps/api/src/main.ts`, as deployed but with its read cache off) under autocannon:
 *    `certificates.get` over tRPC and REST, taking turns with the baseline for three rounds (the ratios compare the
 *    means), then the list procedures, `account.transactions` with a session, and `auth.login`.
 * 6. The read cache's gain: `certificates.get` (a hot set of ids, and all of them) and the first pages of
 *    `market.listings`, on the API without its cache (5.) and then on one with it (CACHE_TTL_MS as configured, default
 *    5 s), with the cache's hit ratio from its `/metrics`.
 * Both servers are separate `node` processes on the same machine as MariaDB and autocannon, started the same way;
 * each run reports the server's CPU time per response, which other load on the machine distorts far less than req/s.
 * Targets (issue 6): `certificates.get` at ≥ 70 % of the baseline's requests/s, with a p99 at most 1.5× its p99.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, createShutdown, loadConfig, UserFacingError } from "@certchain/common";
import { freePort } from "@certchain/common/testing";
import { ensureDeployment, startAnvil } from "@certchain/contracts";
import { ETH_CURRENCY_ADDRESS } from "@certchain/db";
import { createTestDatabase } from "@certchain/db/testing";
import { createRedis } from "@certchain/queue";
import { createContentStore } from "@certchain/storage";
import { createApiDeps } from "../../apps/api/src/deps.ts";
import { MAX_PAGE_SIZE } from "../../apps/api/src/pagination.ts";
import { measureLayers } from "./api/layers.ts";
import {
  type LoadResult,
  type LoadTarget,
  runLoad,
  type ServerProcess,
  startScriptNodeFlags,
  startServerProcess,
} from "./api/load.ts";
import {
  explainProcedures,
  formatPlans,
  type PlannedCall,
  type RecordedQuery,
  type RecordingApi,
  startRecordingApi,
} from "./api/queries.ts";
import { loadRows, meanOfRuns, ratioRows, round } from "./api/report.ts";
import { CERTIFICATES, type SeededData, seedDatabase } from "./api/seed.ts";
import type { Benchmark, BenchmarkResult } from "./types.ts";

const CHAIN_ID = 31337;
const CONNECTIONS = 50;
/**
 * argon2id (19 MiB, t = 2) runs on libuv's 4 threads over 2 cores: 8 logins in flight already saturate them, and 50
 * would only add queueing to every latency.
 */
const LOGIN_CONNECTIONS = 8;
const DEFAULT_SECONDS = 10;
/** Warm-up of a server's first run, which also warms everything the later runs share. */
const FIRST_RUN_WARMUP_REQUESTS = 5_000;
/** Rounds in which the baseline and the API's `certificates.get` take turns; the ratios compare their means. */
const ROUNDS_AGAINST_BASELINE = 3;
/** A per-client request limit no run reaches: every request comes from 127.0.0.1. */
const UNLIMITED = 1_000_000_000;

export const benchmark: Benchmark = {
  name: "api",
  async run() {
    const seconds = secondsPerRun();
    const environment = loadConfig();
    const cleanup = createShutdown();
    try {
      const [database, anvil] = await Promise.all([
        createTestDatabase({ prefix: "certchain_bench", poolSize: 4 }),
        startAnvil(),
      ]);
      cleanup.add(() => anvil.stop());
      cleanup.add(() => database.drop());
      const scratch = await mkdtemp(join(tmpdir(), "certchain-api-bench-"));
      cleanup.add(() => rm(scratch, { recursive: true, force: true }));
      const redisPrefix = `bench-api-${process.pid}`;
      cleanup.add(() => deleteRedisKeys(environment.redisUrl, redisPrefix));
      const deploymentsDir = join(scratch, "deployments");
      const storageDir = join(scratch, "storage");
      const { deployment } = await ensureDeployment({
        rpcUrl: anvil.rpcUrl,
        chainId: CHAIN_ID,
        operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
        deploymentsDir,
      });
      const paymentToken = deployment.contracts.PaymentToken.address.toLowerCase() as `0x${string}`;

      let started = performance.now();
      const seeded = await seedDatabase(database.pool, { paymentToken });
      await database.pool.query("ANALYZE TABLE users, sessions, certificates, listings, transactions");
      const seedSeconds = (performance.now() - started) / 1000;
      process.stderr.write(`bench: seeded ${JSON.stringify(seeded.counts)} in ${seedSeconds.toFixed(1)} s\n`);

      const config = loadConfig({
        NODE_ENV: "test",
        LOG_LEVEL: "silent",
        RATE_LIMIT_PER_MINUTE: String(UNLIMITED),
        DATABASE_URL: database.url,
        REDIS_URL: environment.redisUrl,
        REDIS_PREFIX: redisPrefix,
        ETH_NODE_URL: anvil.rpcUrl,
        CHAIN_ID: String(CHAIN_ID),
        // The recorded statements and the per-layer CPU are those of the uncached path.
        CACHE_TTL_MS: "0",
        CACHE_BALANCE_TTL_MS: "0",
      });
      const storage = await createContentStore({ directory: storageDir });
      const recording = await startRecordingApi({ pool: database.pool, deployment, storage, config });
      cleanup.add(() => recording.close());
      const getStatement = await certificatesGetStatement(recording);
      const plans = await explainProcedures(recording, database.pool, planCalls(seeded, paymentToken));
      const unindexed = plans.filter((plan) => plan.fullScans.length > 0);
      const sorting = plans.filter((plan) => plan.sortedScans.length > 0);
      const deps = await createApiDeps(config, database.db, {
        deployment,
        storage,
        onClose: (close) => cleanup.add(close),
      });
      // The read cache on, with a TTL no layer outlasts: after the warm-up every call is a hit in memory.
      const cachedDeps = await createApiDeps({ ...config, cacheTtlMs: 60_000 }, database.db, {
        deployment,
        storage,
        onClose: (close) => cleanup.add(close),
      });
      process.stderr.write("bench: measuring certificates.get's CPU per layer in-process…\n");
      const layers = await measureLayers({
        deps,
        db: database.db,
        pool: database.pool,
        getStatement,
        randomTokenId,
        cached: { deps: cachedDeps, hotTokenId: randomHotTokenId },
      });
      process.stdout.write(
        `\nEXPLAIN of every SELECT the procedures sent: ${plans.length} statements, ${unindexed.length} reading a table without an index, ${sorting.length} sorting all matching rows\n\n${formatPlans(plans)}\n`,
      );

      const loads: LoadResult[] = [];
      const measure = async (server: ServerProcess, target: LoadTarget) => {
        process.stderr.write(`bench: ${server.name}: ${target.label} (${target.connections} connections)…\n`);
        const result = await runLoad(server, target, seconds);
        for (const sample of result.failureSamples) process.stdout.write(`${target.label}: non-2xx: ${sample}\n`);
        loads.push(result);
        return result;
      };

      started = performance.now();
      const loadBefore = loadavg()[0] ?? 0;
      const baselinePort = await freePort();
      const baseline = await startServerProcess({
        name: "baseline",
        entry: "scripts/bench/api/baseline-server.ts",
        args: [getStatement.sql, getStatement.method],
        env: { DATABASE_URL: database.url, API_PORT: String(baselinePort), LOG_LEVEL: "warn" },
        port: baselinePort,
        readyPath: "/certificates/1",
      });
      cleanup.add(() => baseline.stop());
      const apiEnv = (port: number, cacheTtlMs: string | undefined): Record<string, string> => ({
        // As deployed. The keys are random: reads never sign, and production refuses the public development keys.
        NODE_ENV: "production",
        MASTER_KEY: randomBytes(32).toString("hex"),
        OPERATOR_PRIVATE_KEY: `0x${randomBytes(32).toString("hex")}`,
        LOG_LEVEL: "warn",
        // The limiter still runs (its Redis round trips are part of the cost); it must not refuse the load itself.
        RATE_LIMIT_PER_MINUTE: String(UNLIMITED),
        DATABASE_URL: database.url,
        REDIS_URL: environment.redisUrl,
        REDIS_PREFIX: redisPrefix,
        ETH_NODE_URL: anvil.rpcUrl,
        CHAIN_ID: String(CHAIN_ID),
        API_PORT: String(port),
        DEPLOYMENTS_DIR: deploymentsDir,
        STORAGE_DIR: storageDir,
        // Off for the runs against the baseline (the stack's own cost); as configured for the cached runs.
        ...(cacheTtlMs === undefined ? {} : { CACHE_TTL_MS: cacheTtlMs }),
      });
      const apiPort = await freePort();
      const api = await startServerProcess({
        name: "api",
        entry: "apps/api/src/main.ts",
        nodeFlags: startScriptNodeFlags("apps/api"),
        env: apiEnv(apiPort, "0"),
        port: apiPort,
        readyPath: "/readyz",
      });
      cleanup.add(() => api.stop());

      // The baseline and the API's `certificates.get` (tRPC, then REST) take turns for ROUNDS_AGAINST_BASELINE rounds,
      // and the ratios compare their means: on this machine one run of the same code can land 30 % from the next, and
      // a change in what else it is doing then moves both sides instead of silently skewing the ratio.
      const baselineGet: LoadTarget = {
        label: "baseline get",
        connections: CONNECTIONS,
        path: () => `/certificates/${randomTokenId()}`,
      };
      const [trpcGet, restGet, ...otherTargets] = apiTargets(seeded) as [LoadTarget, LoadTarget, ...LoadTarget[]];
      const rounds: Record<"baseline" | "trpc" | "rest", LoadResult[]> = { baseline: [], trpc: [], rest: [] };
      for (let round = 1; round <= ROUNDS_AGAINST_BASELINE; round++) {
        const warmupRequests = round === 1 ? FIRST_RUN_WARMUP_REQUESTS : undefined;
        const inRound = (target: LoadTarget): LoadTarget => ({
          ...target,
          label: `${target.label}, round ${round}`,
          warmupRequests,
        });
        process.stderr.write(`bench: against the baseline, round ${round} of ${ROUNDS_AGAINST_BASELINE}…\n`);
        rounds.baseline.push(await runLoad(baseline, inRound(baselineGet), seconds));
        rounds.trpc.push(await runLoad(api, inRound(trpcGet), seconds));
        rounds.rest.push(await runLoad(api, inRound(restGet), seconds));
      }
      await baseline.stop();
      const baselines = [meanOfRuns(baselineGet.label, rounds.baseline)];
      const gets = [meanOfRuns(trpcGet.label, rounds.trpc), meanOfRuns(restGet.label, rounds.rest)];
      for (const load of [...rounds.baseline, ...rounds.trpc, ...rounds.rest]) {
        for (const sample of load.failureSamples) process.stdout.write(`${load.label}: non-2xx: ${sample}\n`);
      }
      loads.push(...baselines, ...gets);
      for (const target of otherTargets) await measure(api, target);
      // The read cache: the same reads without it (the runs above, plus the hot set) and with it.
      const [hotGet, ...cacheTargets] = cachedTargets(seeded, trpcGet) as [LoadTarget, ...LoadTarget[]];
      const uncached = [await measure(api, hotGet)];
      for (const target of cacheTargets) uncached.push(loads.find((load) => load.label === target.label) as LoadResult);
      await api.stop();
      const cachedPort = await freePort();
      const cachedApi = await startServerProcess({
        name: "api cached",
        entry: "apps/api/src/main.ts",
        nodeFlags: startScriptNodeFlags("apps/api"),
        env: apiEnv(cachedPort, environment.cacheTtlMs === 0 ? undefined : String(environment.cacheTtlMs)),
        port: cachedPort,
        readyPath: "/readyz",
      });
      cleanup.add(() => cachedApi.stop());
      const cached: LoadResult[] = [];
      for (const [i, target] of [hotGet, ...cacheTargets].entries()) {
        const warmupRequests = i === 0 ? FIRST_RUN_WARMUP_REQUESTS : undefined;
        cached.push(await measure(cachedApi, { ...target, label: `${target.label} [cached]`, warmupRequests }));
      }
      const hitRatios = cacheHitRows(await (await fetch(`${cachedApi.baseUrl}/metrics`)).text());
      await cachedApi.stop();
      const loadAfter = loadavg()[0] ?? 0;
      process.stderr.write(`bench: load runs took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

      return [
        {
          metric: "seeding",
          value: round(seedSeconds, 1),
          unit: "s",
          note: `${seeded.counts.certificates} certificates, ${seeded.counts.listings} listings, ${seeded.counts.transactions} transactions, ${seeded.counts.users} users`,
        },
        {
          metric: "statements without an index",
          value: unindexed.length,
          unit: "statements",
          note: `of ${plans.length} EXPLAINed (type ALL); must be 0`,
        },
        {
          metric: "statements sorting every match",
          value: sorting.length,
          unit: "statements",
          note: `filesort over > ${MAX_PAGE_SIZE} rows: ${[...new Set(sorting.map((plan) => plan.label.split(" ")[0]))].join(", ") || "none"}`,
        },
        {
          metric: "machine load average (1 min)",
          value: round(loadBefore, 2),
          unit: "runnable",
          note: `before the runs; ${round(loadAfter, 2)} after, on ${availableParallelism()} cores (others' processes skew every figure)`,
        },
        ...layers.map((layer, i) => ({
          metric: `get CPU in-process: ${layer.layer}`,
          value: layer.cpuMicroseconds,
          unit: "µs/call",
          ...(i === 0 ? { note: "each layer includes the ones above it; no sockets" } : {}),
        })),
        ...loads.flatMap(loadRows),
        ...gets.flatMap((get) => ratioRows(baselines, get)),
        ...uncached.flatMap((without, i) => cacheGainRows(without, cached[i] as LoadResult)),
        ...hitRatios,
      ];
    } finally {
      await cleanup.run("benchmark finished");
    }
  },
};

/**
 * Seconds per measured run: BENCH_API_SECONDS, else 10. A knob of this benchmark alone (like RELAYER_KILL_SEED for
 * the kill test), so it is read here rather than in the apps' configuration.
 */
function secondsPerRun(): number {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: read by this script run through tsx, never by a turbo task
  const raw = process.env.BENCH_API_SECONDS ?? String(DEFAULT_SECONDS);
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600) {
    throw new UserFacingError(`BENCH_API_SECONDS must be a whole number of seconds from 1 to 600, not "${raw}"`);
  }
  return seconds;
}

const randomTokenId = () => 1 + Math.floor(Math.random() * CERTIFICATES);
/** Certificates read far more often than the rest (a popular issuer's latest): what the read cache is for. */
const HOT_CERTIFICATES = 1_000;
const randomHotTokenId = () => 1 + Math.floor(Math.random() * HOT_CERTIFICATES);
const pickOne = <T>(values: readonly T[]): T => values[Math.floor(Math.random() * values.length)] as T;
const trpcQuery = (procedure: string, input: unknown) =>
  `/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`;

function apiTargets(seeded: SeededData): LoadTarget[] {
  const bearer = { authorization: `Bearer ${seeded.benchUser.token}` };
  return [
    {
      label: "certificates.get (tRPC)",
      connections: CONNECTIONS,
      path: () => trpcQuery("certificates.get", { tokenId: randomTokenId() }),
    },
    {
      label: "certificates.get (REST)",
      connections: CONNECTIONS,
      path: () => `/api/certificates/${randomTokenId()}`,
    },
    { label: "certificates.list first page", connections: CONNECTIONS, path: trpcQuery("certificates.list", {}) },
    {
      label: "certificates.list by owner",
      connections: CONNECTIONS,
      path: () => trpcQuery("certificates.list", { owner: pickOne(seeded.owners) }),
    },
    { label: "market.listings newest", connections: CONNECTIONS, path: trpcQuery("market.listings", {}) },
    {
      label: "market.listings by price",
      connections: CONNECTIONS,
      path: trpcQuery("market.listings", { sort: "price_asc" }),
    },
    {
      label: "account.transactions",
      connections: CONNECTIONS,
      path: trpcQuery("account.transactions", {}),
      headers: bearer,
    },
    {
      label: "auth.login",
      connections: LOGIN_CONNECTIONS,
      method: "POST",
      path: "/trpc/auth.login",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ login: seeded.benchUser.username, password: seeded.benchUser.password }),
      warmupRequests: 4 * LOGIN_CONNECTIONS,
    },
  ];
}

/**
 * The reads the cache serves, each run without the cache and with it: `certificates.get` over a hot set and over every
 * id (the tRPC run against the baseline), and the first pages of `market.listings` (the runs above).
 */
function cachedTargets(seeded: SeededData, trpcGet: LoadTarget): LoadTarget[] {
  const byLabel = new Map(apiTargets(seeded).map((target) => [target.label, target]));
  return [
    {
      label: `certificates.get, ${HOT_CERTIFICATES} hot ids (tRPC)`,
      connections: CONNECTIONS,
      path: () => trpcQuery("certificates.get", { tokenId: randomHotTokenId() }),
    },
    trpcGet,
    byLabel.get("market.listings newest") as LoadTarget,
    byLabel.get("market.listings by price") as LoadTarget,
  ];
}

/** One read with the cache against the same read without it. */
function cacheGainRows(without: LoadResult, cached: LoadResult): BenchmarkResult[] {
  const rows: BenchmarkResult[] = [
    {
      metric: `${without.label}: cached / uncached req/s`,
      value: round(cached.requestsPerSecond / without.requestsPerSecond, 2),
      unit: "×",
      note: `${without.requestsPerSecond} → ${cached.requestsPerSecond} req/s; p99 ${without.p99Ms} → ${cached.p99Ms} ms`,
    },
  ];
  if (without.serverCpuMsPerRequest !== undefined && cached.serverCpuMsPerRequest !== undefined) {
    rows.push({
      metric: `${without.label}: cached / uncached CPU per request`,
      value: round(cached.serverCpuMsPerRequest / without.serverCpuMsPerRequest, 2),
      unit: "×",
      note: `${without.serverCpuMsPerRequest} → ${cached.serverCpuMsPerRequest} ms of server CPU per response`,
    });
  }
  return rows;
}

/** Hits per cache from the cached API's `/metrics`, over its warm-ups and runs. */
function cacheHitRows(metrics: string): BenchmarkResult[] {
  const counts = new Map<string, Record<string, number>>();
  for (const [, cache = "", result = "", value] of metrics.matchAll(
    /^certchain_cache_requests_total\{cache="(\w+)",result="(\w+)"\} (\d+)$/gm,
  )) {
    counts.set(cache, { ...counts.get(cache), [result]: Number(value) });
  }
  return [...counts].map(([cache, results]) => {
    const total = Object.values(results).reduce((sum, count) => sum + count, 0);
    const hits = (results.hit_memory ?? 0) + (results.hit_redis ?? 0) + (results.coalesced ?? 0);
    return {
      metric: `cache hit ratio: ${cache}`,
      value: round((hits / Math.max(total, 1)) * 100, 1),
      unit: "%",
      note: Object.entries(results)
        .map(([result, count]) => `${result} ${count}`)
        .join(", "),
    };
  });
}

/** What `certificates.get` sends to MySQL, as recorded: the baseline sends exactly this, the same way. */
async function certificatesGetStatement(recording: RecordingApi): Promise<RecordedQuery> {
  const { queries } = await recording.call({ procedure: "certificates.get", input: { tokenId: 1 } });
  const [query, ...others] = queries;
  if (!query || others.length > 0 || query.params.length !== 1 || query.params[0] !== 1) {
    throw new Error(
      `certificates.get no longer sends one statement with the token id as its only parameter (it sent ${JSON.stringify(queries)}): update the baseline`,
    );
  }
  return query;
}

/** Procedure calls whose statements are EXPLAINed; `pages: 2` follows the first page's cursor. */
function planCalls(seeded: SeededData, paymentToken: string): PlannedCall[] {
  const owner = seeded.owners[7] as string;
  const issuer = seeded.issuers[3] as string;
  const seller = seeded.owners[3] as string;
  const bearer = { authorization: `Bearer ${seeded.benchUser.token}` };
  const list = (input: object) => ({ procedure: "certificates.list", input, pages: 2 });
  const listings = (input: object) => ({ procedure: "market.listings", input, pages: 2 });
  const transactions = (input: object) => ({ procedure: "account.transactions", input, headers: bearer, pages: 2 });
  return [
    { procedure: "certificates.get", input: { tokenId: 42 }, pages: 1 },
    list({}),
    list({ owner }),
    list({ issuer }),
    list({ status: "invalid" }),
    list({ owner, status: "valid" }),
    list({ issuer, status: "invalid" }),
    listings({}),
    listings({ sort: "oldest" }),
    listings({ sort: "price_asc" }),
    listings({ sort: "price_desc" }),
    listings({ currency: ETH_CURRENCY_ADDRESS, sort: "price_asc" }),
    listings({ currency: paymentToken, sort: "price_desc" }),
    listings({ seller }),
    listings({ tokenId: 13 }),
    listings({ status: "sold", sort: "price_desc" }),
    transactions({}),
    transactions({ kind: "eth_transfer" }),
    transactions({ status: "pending" }),
    {
      procedure: "auth.login",
      mutation: true,
      input: { login: seeded.benchUser.username, password: seeded.benchUser.password },
      pages: 1,
    },
  ];
}

async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = createRedis(redisUrl);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
