import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import {
  type DaemonProcess,
  freePort,
  type PrivateServer,
  privateServersUnavailable,
  startDaemon,
  startPrivateMariadb,
  startPrivateRedis,
} from "@certchain/common/testing";
import { deployContracts, writeDeployment } from "@certchain/contracts";
import { type Anvil, startAnvil } from "@certchain/contracts/anvil";
import { certificates } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { parseEther } from "viem";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";

/**
 * MariaDB and Redis dying under load, with the API running as operators run it (`apps/api/src/main.ts`, a process of
 * its own). The servers are private to this file (started, SIGKILLed and restarted here); the machine's shared servers
 * are never touched. While a dependency is down every request must still get an answer, and quickly: 503 with a JSON
 * error for what needs it, the usual answer for what does not. Once it is back, the same process answers as before.
 */

/** A request taking longer than this counts as hung: a hang detector, not a speed target. */
const ANSWER_WITHIN_MS = 5_000;
const HARD_TIMEOUT_MS = 15_000;
const LOAD_CONCURRENCY = 6;
const CACHE_TTL_MS = 1_000;
const DB_TIMEOUT_MS = 1_000;
const PASSWORD = "long enough pw";

let mariadb: PrivateServer;
let redis: PrivateServer;
let anvil: Anvil;
let database: TestDatabase;
let api: DaemonProcess;
let baseUrl: string;
let token: string;
let tempDirs: string[] = [];

beforeAll(async () => {
  [mariadb, redis, anvil] = await Promise.all([startPrivateMariadb(), startPrivateRedis(), startAnvil()]);
  database = await createTestDatabase({ serverUrl: mariadb.url });
  const deployment = await deployContracts({
    rpcUrl: anvil.rpcUrl,
    chainId: 31337,
    operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
  });
  const [deploymentsDir, storageDir] = await Promise.all([
    mkdtemp(join(tmpdir(), "certchain-faults-deployments-")),
    mkdtemp(join(tmpdir(), "certchain-faults-storage-")),
  ]);
  tempDirs = [deploymentsDir, storageDir];
  writeDeployment(deployment, deploymentsDir);
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  api = await startDaemon("apps/api/src/main.ts", {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    API_PORT: String(port),
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: "faults",
    ETH_NODE_URL: anvil.rpcUrl,
    CHAIN_ID: "31337",
    DEPLOYMENTS_DIR: deploymentsDir,
    STORAGE_DIR: storageDir,
    // Cached reads (certificates.get, first pages of listings) outlive the database by at most this much.
    CACHE_TTL_MS: String(CACHE_TTL_MS),
    // MariaDB stops a statement running this long, and one unanswered a second longer ends its connection: a slow
    // or frozen server gets 503s, not hung requests.
    API_DB_TIMEOUT_MS: String(DB_TIMEOUT_MS),
    // Every request of this file comes from one address: keep the per-IP limits out of the way.
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_REGISTRATIONS_PER_HOUR: "1000000",
    RATE_LIMIT_NONCES_PER_MINUTE: "1000000",
  });
  await waitFor("the API to be ready", async () => (await fetch(`${baseUrl}/readyz`)).status === 200);

  const registered = await call(trpc.register("faults-user"));
  expect(registered.status, registered.body).toBe(200);
  token = JSON.parse(registered.body).result.data.token;
  const wallet = JSON.parse(registered.body).result.data.user.walletAddress as string;
  await fetch(anvil.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "anvil_setBalance",
      params: [wallet, `0x${parseEther("10").toString(16)}`],
    }),
  });
  await database.db.insert(certificates).values({
    tokenId: 1,
    ownerAddress: wallet.toLowerCase() as `0x${string}`,
    issuerAddress: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
    ipfsHash: "bafyfaults",
    status: "valid",
    issuedAt: new Date(),
    issueTxHash: `0x${"11".repeat(32)}`,
    issuedBlockNumber: 1,
    blockNumber: 1,
    blockHash: `0x${"22".repeat(32)}`,
    logIndex: 0,
  });
}, 90_000);

afterAll(async () => {
  // A test that failed while the server was frozen: stopping the API and dropping the database need it to answer.
  mariadb?.thaw();
  redis?.thaw();
  if (api) {
    await api.stop();
  }
  await database?.drop().catch(() => undefined);
  await Promise.all([mariadb?.dispose(), redis?.dispose(), anvil?.stop()]);
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

// A failed test must not leave the next one without its servers.
beforeEach(async () => {
  mariadb.thaw();
  redis.thaw();
  if (!mariadb.running) await mariadb.start();
  if (!redis.running) await redis.start();
  await waitFor("the API to be ready", async () => (await fetch(`${baseUrl}/readyz`)).status === 200);
});

type Call = { name: string; path: string; init?: RequestInit };
/** `at`: when the request was sent (`performance.now()`). */
type Outcome = { name: string; status: number; at: number; ms: number; body: string };

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
const withToken = (init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
});
const query = (input: unknown) => `?input=${encodeURIComponent(JSON.stringify(input))}`;

const trpc = {
  register: (name: string): Call => ({
    name: "auth.register",
    path: "/trpc/auth.register",
    init: json({ username: name, email: `${name}@example.org`, password: PASSWORD }),
  }),
  login: (): Call => ({
    name: "auth.login",
    path: "/trpc/auth.login",
    init: json({ login: "faults-user", password: PASSWORD }),
  }),
  profile: (): Call => ({ name: "auth.profile", path: "/trpc/auth.profile", init: withToken() }),
  certificate: (): Call => ({ name: "certificates.get", path: `/trpc/certificates.get${query({ tokenId: 1 })}` }),
  certificateList: (): Call => ({ name: "certificates.list", path: `/trpc/certificates.list${query({})}` }),
  listings: (): Call => ({ name: "market.listings", path: `/trpc/market.listings${query({})}` }),
  transfer: (key: string): Call => ({
    name: "account.transfer",
    path: "/trpc/account.transfer",
    init: withToken(
      json({ to: "0x000000000000000000000000000000000000dEaD", currency: "eth", amount: "1", idempotencyKey: key }),
    ),
  }),
  txStatus: (requestId: string): Call => ({
    name: "tx.status",
    path: `/trpc/tx.status${query({ requestId })}`,
    init: withToken(),
  }),
  onStatus: (requestId: string): Call => ({
    name: "tx.onStatus",
    path: `/trpc/tx.onStatus${query({ requestId })}`,
    init: withToken(),
  }),
  siweNonce: (): Call => ({ name: "auth.siweNonce", path: "/trpc/auth.siweNonce", init: json(null) }),
  restProfile: (): Call => ({ name: "GET /api/auth/profile", path: "/api/auth/profile", init: withToken() }),
  restCertificate: (): Call => ({ name: "GET /api/certificates/1", path: "/api/certificates/1" }),
};

async function call({ name, path, init }: Call): Promise<Outcome> {
  const started = performance.now();
  try {
    const response = await fetch(`${baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(HARD_TIMEOUT_MS) });
    if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
      const { status, body } = await firstStreamEvent(response);
      return { name, status, at: started, ms: performance.now() - started, body };
    }
    const body = await response.text();
    return { name, status: response.status, at: started, ms: performance.now() - started, body };
  } catch (error) {
    // A hang (the timeout) or a dropped connection: both fail the test below, with this as the reason.
    return { name, status: 0, at: started, ms: performance.now() - started, body: String(error) };
  }
}

/**
 * A subscription's first event, as a query's answer would be: its data with 200, or its error (tRPC answers every
 * subscription 200 and reports errors in the stream) with the error's HTTP status. The stream is then closed.
 */
async function firstStreamEvent(response: Response): Promise<{ status: number; body: string }> {
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { status: 0, body: `stream ended without data or error: ${text}` };
      text += value;
      for (const block of text.split("\n\n").slice(0, -1)) {
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data === undefined || data === "") continue;
        if (event === "serialized-error")
          return { status: JSON.parse(data).data.httpStatus, body: JSON.stringify({ error: JSON.parse(data) }) };
        if (event === undefined) return { status: 200, body: data };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** `calls` over and over from LOAD_CONCURRENCY clients for `ms`; every answer, in order of completion. */
async function load(calls: Array<() => Call>, ms: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const until = Date.now() + ms;
  let next = 0;
  await Promise.all(
    Array.from({ length: LOAD_CONCURRENCY }, async () => {
      while (Date.now() < until) {
        const make = calls[next++ % calls.length] as () => Call;
        outcomes.push(await call(make()));
      }
    }),
  );
  return outcomes;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - started;
    if (api.child.exitCode !== null) {
      throw new Error(`the API exited (${api.child.exitCode}) waiting for ${what}:\n${api.output()}`);
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}:\n${api.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Answers grouped by procedure and status, e.g. `{ "auth.profile": { "503": 40 } }`, for assertions and messages. */
function tally(outcomes: Outcome[]): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const { name, status } of outcomes) {
    counts[name] ??= {};
    const byStatus = counts[name] as Record<string, number>;
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }
  return counts;
}

/** Every answer came in time, none was a 500 or a dropped connection, and error bodies are JSON without internals. */
function expectWellFormed(outcomes: Outcome[]) {
  const summary = JSON.stringify(tally(outcomes));
  const slowest = outcomes.reduce((max, o) => Math.max(max, o.ms), 0);
  expect(slowest, `slowest answer (ms); ${summary}`).toBeLessThan(ANSWER_WITHIN_MS);
  for (const outcome of outcomes) {
    const context = `${outcome.name}: ${outcome.status} ${outcome.body.slice(0, 500)}`;
    expect(outcome.status > 0 && (outcome.status < 500 || outcome.status === 503), context).toBe(true);
    if (outcome.status >= 400) {
      const body = JSON.parse(outcome.body);
      expect(body.error, outcome.body).toBeDefined();
      // No stack trace, no SQL, no connection string: a sentence for the client.
      expect(outcome.body).not.toMatch(/\n\s+at |stack|SELECT|INSERT|mysql:\/\/|redis:\/\//);
    }
  }
}

/** The error code an answer carries: tRPC puts it in `error.data.code`, REST in `error.code`. */
const errorCode = (outcome: Outcome): string | undefined => {
  if (outcome.status < 400) return undefined;
  const body = JSON.parse(outcome.body);
  return body.error?.data?.code ?? body.error?.code;
};

const reads = [
  trpc.certificate,
  trpc.certificateList,
  trpc.listings,
  trpc.profile,
  trpc.restProfile,
  trpc.restCertificate,
];

/** A short load in which every answer is well formed and a 200. */
async function expectAllSucceed(mix: Array<() => Call>) {
  const outcomes = await load(mix, 1_500);
  expectWellFormed(outcomes);
  expect(
    outcomes.filter((o) => o.status !== 200),
    JSON.stringify(tally(outcomes)),
  ).toEqual([]);
}

/** Runs `fault` 300 ms into a load of `ms`; every answer of the load, and when the fault struck. */
async function faultUnderLoad(mix: Array<() => Call>, ms: number, fault: () => unknown) {
  const during = load(mix, ms);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await fault();
  const struckAt = performance.now();
  return { outage: await during, struckAt };
}

/** Kills `server` while a load runs: requests in flight meet dropped connections, later ones a refused port. */
async function killUnderLoad(server: PrivateServer, mix: Array<() => Call>) {
  const { outage, struckAt } = await faultUnderLoad(mix, 4_000, () => server.kill());
  return { outage, killedAt: struckAt };
}

/** Milliseconds until every call of `mix` succeeds again. */
function recovery(what: string, mix: Array<() => Call>): Promise<number> {
  return waitFor(what, async () => {
    const outcomes = await Promise.all(mix.map((make) => call(make())));
    return outcomes.every((o) => o.status === 200);
  });
}

/** The answer is 503 SERVICE_UNAVAILABLE. */
function expectUnavailable(outcome: Outcome) {
  expect([outcome.status, errorCode(outcome)], `${outcome.name}: ${outcome.body}`).toEqual([
    503,
    "SERVICE_UNAVAILABLE",
  ]);
}

/** One line about an outage for the test's output: its answers by procedure and status, and the slowest. */
const describeOutage = (outage: Outcome[]) =>
  `${outage.length} answers ${JSON.stringify(tally(outage))}, slowest ${Math.round(Math.max(...outage.map((o) => o.ms)))} ms`;

describe.skipIf(privateServersUnavailable())("faults", () => {
  test("behavior: MariaDB killed under load: 503s within bounded time, /readyz names the database, recovery without a restart", async () => {
    const mix = [...reads, trpc.login];
    await expectAllSucceed(mix);

    const { outage, killedAt } = await killUnderLoad(mariadb, mix);
    // Sent once the read cache's entries have expired: nothing can answer without the database any more.
    const downAnswers = outage.filter((o) => o.at > killedAt + CACHE_TTL_MS + 200);
    expectWellFormed(outage);

    const ready = await call({ name: "/readyz", path: "/readyz" });
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).reason).toMatch(/^cannot reach MySQL at 127\.0\.0\.1:\d+ \(DATABASE_URL\)/);
    expect((await call({ name: "/healthz", path: "/healthz" })).status).toBe(200);
    for (const outcome of downAnswers) {
      expectUnavailable(outcome);
    }
    expect(downAnswers.length).toBeGreaterThan(20);

    const restartedAt = Date.now();
    await mariadb.start();
    const recoveryMs = await recovery("reads to succeed again", mix);
    console.info(
      `MariaDB down: ${outage.length} answers ${JSON.stringify(tally(outage))}; API recovered ${recoveryMs} ms after the server answered (${Date.now() - restartedAt} ms after restart)`,
    );
    expect((await call({ name: "/readyz", path: "/readyz" })).status).toBe(200);
    await expectAllSucceed(mix);
    expect(api.child.exitCode).toBeNull();
  });

  test("behavior: MariaDB frozen under load (no answers, connections left open): 503s within bounded time, then recovery", async () => {
    const mix = [...reads, trpc.login];
    await expectAllSucceed(mix);

    const { outage, struckAt: frozenAt } = await faultUnderLoad(mix, 5_000, () => mariadb.freeze());
    // Every request got an answer in bounded time (no hang until the client gave up), none a 500.
    expectWellFormed(outage);
    const downAnswers = outage.filter((o) => o.at > frozenAt + CACHE_TTL_MS + 200);
    for (const outcome of downAnswers) {
      expectUnavailable(outcome);
    }
    expect(downAnswers.length).toBeGreaterThan(10);
    const ready = await call({ name: "/readyz", path: "/readyz" });
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).reason).toMatch(
      /^cannot reach MySQL at 127\.0\.0\.1:\d+ \(DATABASE_URL\): timed out/,
    );

    const thawedAt = Date.now();
    mariadb.thaw();
    const recoveryMs = await recovery("reads to succeed again", mix);
    console.info(
      `MariaDB frozen: ${describeOutage(outage)}; API recovered ${recoveryMs} ms after the thaw (${Date.now() - thawedAt} ms)`,
    );
    await expectAllSucceed(mix);
    expect(api.child.exitCode).toBeNull();
  });

  test("behavior: a statement stuck behind another client's lock is stopped by MariaDB at API_DB_TIMEOUT_MS: 503", async () => {
    const mix = [...reads, trpc.login];
    const locker = await database.pool.getConnection();
    try {
      await locker.query("LOCK TABLES certificates WRITE");
      const started = performance.now();
      // A read the cache does not serve, so it must wait for the table.
      const stuck = await call(trpc.certificateList());
      const ms = performance.now() - started;
      expectUnavailable(stuck);
      // The server's deadline: the client's own, one second later, would also have ended the pooled connection.
      expect(ms).toBeGreaterThanOrEqual(DB_TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(DB_TIMEOUT_MS + 800);
      // And the server stopped working on it: a statement the client had merely given up on would still be waiting.
      const [waiting] = await locker.query(
        "SELECT id, info FROM information_schema.PROCESSLIST WHERE info LIKE '%from `certificates`%' AND id <> CONNECTION_ID()",
      );
      expect(waiting).toEqual([]);
    } finally {
      await locker.query("UNLOCK TABLES");
      locker.release();
    }
    await expectAllSucceed(mix);
  });

  test("behavior: Redis killed under load: reads keep working, what needs Redis is 503 at once, recovery without a restart", async () => {
    let keys = 0;
    const transfer = () => trpc.transfer(`faults-transfer-${keys++}`);
    const submitted = await call(transfer());
    expect(submitted.status, submitted.body).toBe(200);
    const { requestId } = JSON.parse(submitted.body).result.data;
    // Reads of the database, and the status stream (which re-reads its row while it cannot hear the relayer).
    const withoutRedis = [...reads, () => trpc.txStatus(requestId), () => trpc.onStatus(requestId)];
    const mix = [...withoutRedis, trpc.login, transfer, trpc.siweNonce];
    await expectAllSucceed(mix);

    const { outage, killedAt } = await killUnderLoad(redis, mix);
    expectWellFormed(outage);
    const downAnswers = outage.filter((o) => o.at > killedAt);
    for (const outcome of downAnswers) {
      // Reads need only the database (the rate limit fails open by default, the read cache falls through).
      if (withoutRedis.some((make) => make().name === outcome.name)) expect(outcome.status, outcome.body).toBe(200);
      // Logins and nonces fail closed (their limits cannot be counted); a transfer cannot be queued.
      else expectUnavailable(outcome);
    }
    expect(downAnswers.length).toBeGreaterThan(20);
    // The database is what readiness is about: an API without Redis still serves reads.
    expect((await call({ name: "/readyz", path: "/readyz" })).status).toBe(200);

    const restartedAt = Date.now();
    await redis.start();
    const recoveryMs = await recovery("every procedure to succeed again", mix);
    console.info(
      `Redis down: ${outage.length} answers ${JSON.stringify(tally(outage))}; API recovered ${recoveryMs} ms after the server answered (${Date.now() - restartedAt} ms after restart)`,
    );
    await expectAllSucceed(mix);
    expect(api.child.exitCode).toBeNull();
  });

  test("behavior: Redis frozen under load (no answers, connections left open): reads keep working, what needs Redis is 503 in bounded time", async () => {
    let keys = 0;
    const transfer = () => trpc.transfer(`faults-frozen-${keys++}`);
    const mix = [...reads, trpc.login, transfer, trpc.siweNonce];
    await expectAllSucceed(mix);

    const { outage, struckAt: frozenAt } = await faultUnderLoad(mix, 6_000, () => redis.freeze());
    const thawedAt = Date.now();
    redis.thaw();
    expectWellFormed(outage);
    const downAnswers = outage.filter((o) => o.at > frozenAt + 200);
    for (const outcome of downAnswers) {
      if (reads.some((make) => make().name === outcome.name)) expect(outcome.status, outcome.body).toBe(200);
      else expectUnavailable(outcome);
    }
    expect(downAnswers.length).toBeGreaterThan(10);

    const recoveryMs = await recovery("every procedure to succeed again", mix);
    console.info(
      `Redis frozen: ${describeOutage(outage)}; API recovered ${recoveryMs} ms after the thaw (${Date.now() - thawedAt} ms)`,
    );
    await expectAllSucceed(mix);
    expect(api.child.exitCode).toBeNull();
  });
});
