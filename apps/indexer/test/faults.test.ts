import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  type PrivateServer,
  privateServersUnavailable,
  startPrivateMariadb,
} from "@certchain/common/testing";
import { writeDeployment } from "@certchain/contracts";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { parseEther } from "viem";
import { afterAll, beforeAll, expect, test } from "vitest";
import { readIndexedRows } from "../src/store/store.ts";
import { startTestChain, type TestChain } from "./chain.ts";
import { expectTablesMatchChain, TEST_FINALITY_DEPTH, uninterruptedRows } from "./harness.ts";
import { type IndexerProcess, spawnIndexer } from "./process.ts";
import { createRandom, freshSeed } from "./random.ts";
import { registerPlatformWallet } from "./relayer-rows.ts";

/**
 * MariaDB killed (SIGKILL, as a crash or an OOM kill would) and restarted while the indexer runs as a process and the
 * chain keeps moving. The server is private to this file; the machine's shared MariaDB only holds the reference run.
 * The indexer must ride it out without exiting and end exactly where an uninterrupted run does.
 */

type Address = `0x${string}`;
const REPLAY_SEED: number | undefined = undefined;
/** Long enough for many failed steps and lease heartbeats (the lease TTL below is 400 ms). */
const OUTAGE_MS = 3_000;

let chain: TestChain;
let mariadb: PrivateServer;
let deploymentsDir: string;
const databases: TestDatabase[] = [];
const indexers: IndexerProcess[] = [];

beforeAll(async () => {
  [chain, mariadb] = await Promise.all([startTestChain(), startPrivateMariadb()]);
  deploymentsDir = mkdtempSync(join(tmpdir(), "indexer-faults-"));
  writeDeployment(chain.deployment, deploymentsDir);
}, 60_000);

afterAll(async () => {
  for (const indexer of indexers) indexer.child.kill("SIGKILL");
  if (mariadb && !mariadb.running) await mariadb.start().catch(() => undefined);
  await Promise.all(databases.map((d) => d.drop().catch(() => undefined)));
  await Promise.all([chain?.stop(), mariadb?.dispose()]);
  rmSync(deploymentsDir, { recursive: true, force: true });
});

const walletsOf = (chain: TestChain) => chain.accounts.slice(1, 3) as Address[];

/** Platform activity until `stop()`: issues, transfers, listings, sales, revocations and ETH to platform wallets. */
function keepChainBusy(chain: TestChain, random: ReturnType<typeof createRandom>) {
  const users = chain.accounts.slice(1, 5) as Address[];
  let stopping = false;
  let current = { op: "", since: 0 };
  const step = <T>(op: string, run: () => Promise<T>) => {
    current = { op, since: Date.now() };
    return run();
  };
  const running = (async () => {
    while (!stopping) {
      const owner = random.pick(users);
      if (random.next() < 0.2)
        await step("sendEth", () => chain.sendEth(chain.accounts[6] as Address, random.pick(walletsOf(chain)), 1_000n));
      const tokenId = await step("issue", () => chain.issueCertificate(owner));
      const roll = random.next();
      if (roll < 0.3)
        await step("transfer", () => chain.transfer(owner, random.pick(users.filter((u) => u !== owner)), tokenId));
      else if (roll < 0.6) {
        const listingId = await step("list", () => chain.listForSale(owner, tokenId, parseEther("1")));
        if (random.next() < 0.5)
          await step("buy", () => chain.buy(random.pick(users.filter((u) => u !== owner)), listingId, parseEther("1")));
      } else if (roll < 0.7) await step("revoke", () => chain.revoke(tokenId));
    }
  })();
  running.catch(() => undefined);
  return {
    /** Finishes the action under way; an action that never ends (a node that stopped answering) fails, naming it. */
    async stop() {
      stopping = true;
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`chain activity stuck in ${current.op} for ${Date.now() - current.since} ms`)),
          20_000,
        );
      });
      try {
        await Promise.race([running, stuck]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

test.skipIf(privateServersUnavailable())(
  "behavior: MariaDB killed during backfill and during realtime indexing: the indexer waits it out and ends where an uninterrupted run does",
  {
    timeout: 120_000,
  },
  async () => {
    const seed = REPLAY_SEED ?? freshSeed();
    const random = createRandom(seed);
    const database = await createTestDatabase({ serverUrl: mariadb.url });
    databases.push(database);
    for (const wallet of walletsOf(chain)) await registerPlatformWallet(database, wallet);
    const port = await freePort();
    const env = {
      DATABASE_URL: database.url,
      ETH_NODE_URL: chain.rpcUrl,
      CHAIN_ID: "31337",
      FINALITY_DEPTH: String(TEST_FINALITY_DEPTH),
      INDEXER_PORT: String(port),
      LOG_LEVEL: "warn",
      NODE_ENV: "test",
      // Its cache invalidations go to the shared Redis: under a prefix no API listens to.
      REDIS_PREFIX: `test-indexer-faults-${process.pid}`,
    };
    const args = [
      ...["--deployments-dir", deploymentsDir, "--poll-interval-ms", "25", "--lease-ttl-ms", "400"],
      // Small backfill transactions, so the first kill lands among many commits.
      ...["--backfill-batch-blocks", "20"],
    ];
    const cursorBlock = async () => {
      const [rows] = await database.pool.query({ sql: "SELECT block_number FROM indexer_cursor", timeout: 5_000 });
      return (rows as Array<{ block_number: number }>)[0]?.block_number ?? null;
    };
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) });
      return { status: response.status, body: (await response.json()) as { problems: string[] } };
    };
    const log: string[] = [];
    /** Polls `check` until it holds; fails with the indexer's output when it exits or `timeoutMs` passes. */
    const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check().catch(() => false))) {
        if (indexer.child.exitCode !== null)
          throw new Error(`indexer exited waiting for ${what}:\n${indexer.output()}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${indexer.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };

    // A long chain to backfill, so the first kill lands mid-backfill.
    for (let i = 0; i < 20; i++) await chain.issueCertificate(walletsOf(chain)[0] as Address);
    await chain.mine(1_000);
    const head = await chain.headNumber();
    const indexer = await spawnIndexer(env, args);
    indexers.push(indexer);
    const busy: Array<ReturnType<typeof keepChainBusy>> = [];
    try {
      const outage = async (phase: string) => {
        const before = await cursorBlock();
        await mariadb.kill();
        const killedAt = Date.now();
        // The indexer keeps running, says it is not ready and why, and keeps its place.
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
        const ready = await readyz();
        expect(ready.status).toBe(503);
        expect(ready.body.problems).toContain("database unreachable");
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
        expect(indexer.child.exitCode, indexer.output()).toBeNull();
        await mariadb.start();
        const restartedAt = Date.now();
        // Resumes by itself: the cursor moves on from where it was.
        await waitUntil(
          `the cursor to pass block ${before}`,
          async () => ((await cursorBlock()) ?? -1) > (before ?? -1),
        );
        log.push(
          `${phase}: killed at cursor ${before}, down ${restartedAt - killedAt} ms, resumed ${Date.now() - restartedAt} ms after the restart`,
        );
      };

      await waitUntil("the first commit", async () => (await cursorBlock()) !== null);
      expect((await cursorBlock()) ?? 0).toBeLessThan(head - TEST_FINALITY_DEPTH);
      await outage("backfill");

      // Realtime: caught up, the chain busy all along, the database killed under it.
      busy.push(keepChainBusy(chain, random));
      await waitUntil(`block ${head}`, async () => ((await cursorBlock()) ?? 0) >= head);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await outage("realtime");
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await (busy.pop() as ReturnType<typeof keepChainBusy>).stop();

      const finalHead = await chain.headNumber();
      await waitUntil(`block ${finalHead}`, async () => ((await cursorBlock()) ?? 0) >= finalHead);
      expect((await readyz()).status).toBe(200);
      indexer.child.kill("SIGTERM");
      const exited = await Promise.race([
        indexer.exited,
        new Promise((resolve) => setTimeout(resolve, 10_000, "hung")),
      ]);
      expect(exited, indexer.output()).toBe(0);

      // The reference: a fresh, uninterrupted indexer over the same chain, into a database on the shared server.
      const rows = await readIndexedRows(database);
      expect(rows).toEqual(await uninterruptedRows(chain, walletsOf(chain), databases));
      await expectTablesMatchChain(chain, database);
      console.info(
        `${log.join("; ")}; ${rows.certificates.length} certificates, ${rows.listings.length} listings, ${rows.transactions.length} transactions`,
      );
    } catch (error) {
      await Promise.all(busy.map((b) => b.stop().catch(() => undefined)));
      console.error(
        `indexer fault test failed with seed ${seed}; set REPLAY_SEED = ${seed} to replay\n${log.join("\n")}\n${indexer.output()}`,
      );
      throw error;
    }
  },
);
