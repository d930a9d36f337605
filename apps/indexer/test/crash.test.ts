import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@certchain/common/testing";
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

/** Set to a printed seed to replay a failing run. */
const REPLAY_SEED: number | undefined = undefined;
const KILLS_DURING_BACKFILL = 10;
const KILLS_DURING_REALTIME = 10;
/** Warm processes waiting for the lease besides the leader. */
const STANDBYS = 2;

type Address = `0x${string}`;
let chain: TestChain;
let deploymentsDir: string;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  chain = await startTestChain();
  deploymentsDir = mkdtempSync(join(tmpdir(), "indexer-crash-"));
  writeDeployment(chain.deployment, deploymentsDir);
});

afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await chain?.stop();
  rmSync(deploymentsDir, { recursive: true, force: true });
});

/** Users with platform wallets: the indexer reads every block's receipts, as it does in production. */
const walletsOf = (chain: TestChain) => chain.accounts.slice(1, 3) as Address[];

/** Some platform activity: issues, transfers, listings and sales, and ETH sent to platform wallets. */
async function activity(chain: TestChain, random: ReturnType<typeof createRandom>, actions: number) {
  const users = chain.accounts.slice(1, 5) as Address[];
  for (let i = 0; i < actions; i++) {
    const owner = random.pick(users);
    if (random.next() < 0.1) await chain.sendEth(chain.accounts[6] as Address, random.pick(walletsOf(chain)), 1_000n);
    const tokenId = await chain.issueCertificate(owner);
    const roll = random.next();
    if (roll < 0.3) await chain.transfer(owner, random.pick(users.filter((u) => u !== owner)), tokenId);
    else if (roll < 0.6) {
      const listingId = await chain.listForSale(owner, tokenId, parseEther("1"));
      if (random.next() < 0.5)
        await chain.buy(random.pick(users.filter((u) => u !== owner)), listingId, parseEther("1"));
    } else if (roll < 0.7) await chain.revoke(tokenId);
  }
}

test("behavior: killed with SIGKILL 20 times during backfill and realtime, the indexer ends exactly where an uninterrupted run does", {
  timeout: 300_000,
}, async () => {
  const seed = REPLAY_SEED ?? freshSeed();
  const random = createRandom(seed);
  const database = await createTestDatabase();
  databases.push(database);
  for (const wallet of walletsOf(chain)) await registerPlatformWallet(database, wallet);
  const env = {
    DATABASE_URL: database.url,
    ETH_NODE_URL: chain.rpcUrl,
    CHAIN_ID: "31337",
    FINALITY_DEPTH: String(TEST_FINALITY_DEPTH),
    LOG_LEVEL: "warn",
    NODE_ENV: "test",
  };
  const args = [
    ...["--deployments-dir", deploymentsDir, "--poll-interval-ms", "25", "--lease-ttl-ms", "400"],
    // Small backfill transactions, so kills land between (and inside) many commits.
    ...["--backfill-batch-blocks", "20"],
  ];
  const log: string[] = [];

  // Processes load slowly (seconds of tsx start-up on a busy machine), so standbys are started ahead: each kill
  // hits the current leader, a warm standby takes the lease over and resumes from the cursor, a new standby starts.
  const live = new Map<number, IndexerProcess>();
  const spawnOne = async () => {
    const indexer = await spawnIndexer({ ...env, INDEXER_PORT: String(await freePort()) }, args);
    const pid = indexer.child.pid as number;
    live.set(pid, indexer);
    void indexer.exited.then(() => live.delete(pid));
  };
  const leaderPid = async (): Promise<number> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [rows] = await database.pool.query("SELECT owner_id FROM indexer_lock WHERE expires_at > NOW(3)");
      const pid = Number((rows as Array<{ owner_id: string }>)[0]?.owner_id.split(":")[1]);
      if (live.has(pid)) return pid;
      if (Date.now() > deadline) throw new Error("no indexer process took the lease");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const cursorBlock = async () => {
    const [rows] = await database.pool.query("SELECT block_number FROM indexer_cursor");
    return (rows as Array<{ block_number: number }>)[0]?.block_number ?? null;
  };

  const cursorMoved = async (from: number | null) => {
    const deadline = Date.now() + 30_000;
    while ((await cursorBlock()) === from) {
      if (Date.now() > deadline) throw new Error(`the leader saved no cursor past block ${from} in 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  try {
    await activity(chain, random, 40);
    await chain.mine(1_500); // a longer chain to backfill, so kills land mid-backfill
    for (let i = 0; i < STANDBYS + 1; i++) await spawnOne();
    for (let i = 0; i < KILLS_DURING_BACKFILL + KILLS_DURING_REALTIME; i++) {
      const realtime = i >= KILLS_DURING_BACKFILL;
      const pid = await leaderPid();
      const startedAt = await cursorBlock();
      const background = realtime ? activity(chain, random, random.int(1, 3)) : Promise.resolve();
      // A fresh leader is often killed before its first commit; half the time, wait for one, so that resuming from a
      // cursor another process saved is what the next leader has to get right.
      if (random.next() < 0.5) await cursorMoved(startedAt);
      await new Promise((resolve) => setTimeout(resolve, realtime ? random.int(20, 500) : random.int(10, 150)));
      const killed = live.get(pid);
      process.kill(pid, "SIGKILL");
      await killed?.exited;
      await spawnOne();
      await background;
      // Sometimes the chain reorganises while no one indexes: the next leader must notice from its stored blocks.
      const reorgDepth = realtime && random.next() < 0.3 ? random.int(1, TEST_FINALITY_DEPTH) : 0;
      if (reorgDepth > 0) await chain.reorg(reorgDepth);
      log.push(
        `kill ${i + 1} (${realtime ? "realtime" : "backfill"}) with cursor at block ${await cursorBlock()}${reorgDepth > 0 ? `, then a reorg of depth ${reorgDepth}` : ""}`,
      );
    }

    // The last leader runs to the head and stops gracefully: SIGTERM finishes the batch and releases the lease.
    const survivorPid = await leaderPid();
    const survivor = live.get(survivorPid) as IndexerProcess;
    const head = await chain.headNumber();
    const deadline = Date.now() + 60_000;
    while (((await cursorBlock()) ?? 0) < head) {
      if (Date.now() > deadline) throw new Error(`survivor did not reach block ${head}: ${survivor.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [before] = await database.pool.query("SELECT fencing_token FROM indexer_lock");
    survivor.child.kill("SIGTERM");
    expect(await survivor.exited, survivor.output()).toBe(0);
    // Released, not left to expire: a standby takes over at once with the next fencing token.
    const newLeader = await leaderPid();
    const [after] = await database.pool.query("SELECT fencing_token FROM indexer_lock");
    expect(newLeader).not.toBe(survivorPid);
    expect((after as Array<{ fencing_token: number }>)[0]?.fencing_token).toBe(
      ((before as Array<{ fencing_token: number }>)[0]?.fencing_token ?? 0) + 1,
    );
    for (const indexer of live.values()) indexer.child.kill("SIGTERM");
    await Promise.all([...live.values()].map((indexer) => indexer.exited));

    expect(await readIndexedRows(database)).toEqual(await uninterruptedRows(chain, walletsOf(chain), databases));
    await expectTablesMatchChain(chain, database);
  } catch (error) {
    for (const indexer of live.values()) indexer.child.kill("SIGKILL");
    console.error(`kill -9 test failed with seed ${seed}; set REPLAY_SEED = ${seed} to replay\n${log.join("\n")}`);
    throw error;
  }
});
