import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createMetrics } from "../src/metrics.ts";
import { createServerApp } from "../src/server.ts";
import { startTestChain, type TestChain } from "./chain.ts";
import { expectTablesMatchChain, startTestIndexer, waitUntilIndexed } from "./harness.ts";
import { startNodeProxy } from "./proxy.ts";

type Address = `0x${string}`;
let chain: TestChain;
const databases: TestDatabase[] = [];
const newDatabase = async () => {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
};
const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

beforeAll(async () => {
  chain = await startTestChain();
});

afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await chain?.stop();
});

describe("one writer", () => {
  test("behavior: a second instance waits as standby and takes over within 10 s of the leader dying", async () => {
    const database = await newDatabase();
    // The default lease TTL (5 s), as in production.
    const leader = startTestIndexer(chain, database, { leaseTtlMs: undefined });
    await waitUntilIndexed(leader, chain);
    const standby = startTestIndexer(chain, database, { leaseTtlMs: undefined });
    await until("standby", () => standby.status().role === "standby");
    const [, alice] = chain.accounts as [Address, Address];
    await chain.issueCertificate(alice);
    await waitUntilIndexed(leader, chain);
    expect(standby.status().role).toBe("standby");

    // The leader "dies" without releasing the lease: its heartbeats stop reaching the database.
    await leader.db.pool.query("SELECT 1"); // (pool warm)
    const diedAt = Date.now();
    await leader.db.close();
    await until("takeover", () => standby.status().role === "leader", 10_000);
    expect(Date.now() - diedAt).toBeLessThan(10_000);
    await chain.issueCertificate(alice);
    await waitUntilIndexed(standby, chain);
    await expectTablesMatchChain(chain, database);
    await standby.stop();
    await leader.stop();
  });

  test("behavior: an instance that lost its lease while paused cannot commit (fencing token)", async () => {
    const database = await newDatabase();
    const first = startTestIndexer(chain, database);
    await waitUntilIndexed(first, chain);
    // Someone else takes the lease, as a standby would after the first instance stalled past its TTL.
    await database.pool.query("UPDATE indexer_lock SET owner_id = 'other:1:x', fencing_token = fencing_token + 1");
    const [, alice] = chain.accounts as [Address, Address];
    await chain.issueCertificate(alice);
    await until("lease loss", () => first.status().role === "failed");
    expect(first.status().failure?.name).toBe("LeaseLostError");
    const [rows] = await database.pool.query("SELECT block_number FROM indexer_cursor");
    expect((rows as Array<{ block_number: number }>)[0]?.block_number).toBeLessThan(await chain.headNumber());
    await first.stop();
  });
});

describe("node outages and newHeads", () => {
  test("behavior: follows heads over ETH_WS_URL faster than polling, survives the node going down and back up", async () => {
    const database = await newDatabase();
    const proxy = await startNodeProxy(chain.anvil.port);
    const metrics = createMetrics();
    const indexer = startTestIndexer({ ...chain, rpcUrl: proxy.rpcUrl }, database, {
      wsUrl: proxy.wsUrl,
      pollIntervalMs: 3_000,
    });
    const app = createServerApp({ metrics }, indexer);
    try {
      await waitUntilIndexed(indexer, chain);
      const [, alice] = chain.accounts as [Address, Address];
      // With a 3 s poll interval, only the newHeads subscription can make this quick.
      const started = Date.now();
      await chain.issueCertificate(alice);
      await waitUntilIndexed(indexer, chain);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect((await app.request("/readyz")).status).toBe(200);

      await proxy.down();
      await chain.issueCertificate(alice); // mined while the indexer cannot see the node
      await until("readyz 503", async () => (await app.request("/readyz")).status === 503);
      const body = (await (await app.request("/readyz")).json()) as { problems: string[] };
      expect(body.problems).toContain("node unreachable");
      await proxy.up();
      await waitUntilIndexed(indexer, chain, undefined, 20_000);
      await expectTablesMatchChain(chain, database);
      expect(indexer.status().role).toBe("leader");
      await until("readyz 200", async () => (await app.request("/readyz")).status === 200);
      const metricsText = await (await app.request("/metrics")).text();
      expect(metricsText).toContain("certchain_indexer_indexed_block");
    } finally {
      await indexer.stop();
      await proxy.down();
    }
  });
});
