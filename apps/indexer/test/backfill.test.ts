import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readIndexedRows } from "../src/store/store.ts";
import { startTestChain, type TestChain } from "./chain.ts";
import {
  expectTablesMatchChain,
  expectTransactionsCanonical,
  startTestIndexer,
  TEST_FINALITY_DEPTH,
  waitUntilIndexed,
} from "./harness.ts";
import { insertPendingRelayerRow } from "./relayer-rows.ts";

let chain: TestChain;
const databases: TestDatabase[] = [];
const newDatabase = async () => {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
};

/** A little of everything the platform does: issue, transfer, list, relist, cancel, buy, revoke, withdraw, ERC-20. */
async function marketActivity(chain: TestChain) {
  const [, alice, bob, carol] = chain.accounts as [string, `0x${string}`, `0x${string}`, `0x${string}`];
  const first = await chain.issueCertificate(alice, "bafyfirst");
  const second = await chain.issueCertificate(alice, "bafysecond", BigInt(Math.floor(Date.now() / 1000) + 86_400));
  const third = await chain.issueCertificate(bob, "bafythird");
  await chain.transfer(alice, bob, second);
  const sold = await chain.listForSale(alice, first, parseEther("1"));
  await chain.buy(carol, sold, parseEther("1"));
  const relisted = await chain.listForSale(bob, third, parseEther("2"));
  await chain.listForSale(bob, third, parseEther("3")); // supersedes `relisted`
  await chain.cancelListing(bob, relisted + 1);
  await chain.listForSale(bob, second, parseEther("4"));
  await chain.revoke(second, "issued by mistake"); // its active listing goes stale
  await chain.withdraw(alice);
  await chain.mintPaymentToken(carol, 10n ** 18n);
  return { first, second, third };
}

beforeAll(async () => {
  chain = await startTestChain();
});

afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await chain?.stop();
});

describe("backfill and realtime", () => {
  test("default: every certificate, listing and platform transaction matches the chain", async () => {
    const database = await newDatabase();
    await marketActivity(chain);
    await chain.mine(TEST_FINALITY_DEPTH * 2);
    const indexer = startTestIndexer(chain, database);
    try {
      await waitUntilIndexed(indexer, chain);
      await expectTablesMatchChain(chain, database);
      await expectTransactionsCanonical(chain, database);
      const rows = await readIndexedRows(database);
      const kinds = new Set(rows.transactions.map((t) => t.kind));
      for (const kind of [
        "issue",
        "transfer",
        "list",
        "cancel",
        "buy",
        "revoke",
        "withdraw",
        "approve",
        "role",
        "token_transfer",
      ]) {
        expect(kinds, kind).toContain(kind);
      }
      expect(rows.transactions.every((t) => t.status === "completed")).toBe(true);
      const sale = rows.transactions.find((t) => t.kind === "buy");
      expect(sale?.amount).toBe(parseEther("1").toString());
      const revoked = rows.certificates.find((c) => c.status === "invalid");
      expect(revoked?.revocation_reason).toBe("issued by mistake");
      // Sold; superseded by a relist; cancelled; gone stale when its certificate was revoked.
      expect(rows.listings.map((l) => l.status)).toEqual(["sold", "cancelled", "cancelled", "stale"]);
    } finally {
      await indexer.stop();
    }
  });

  test("behavior: backfill then realtime gives the same rows as a from-scratch backfill", async () => {
    const live = await newDatabase();
    const indexer = startTestIndexer(chain, live);
    try {
      await waitUntilIndexed(indexer, chain);
      await marketActivity(chain); // indexed block by block, with undo records
      await waitUntilIndexed(indexer, chain);
    } finally {
      await indexer.stop();
    }
    await chain.mine(TEST_FINALITY_DEPTH + 1);
    const scratch = await newDatabase();
    const fresh = startTestIndexer(chain, scratch);
    try {
      await waitUntilIndexed(fresh, chain);
    } finally {
      await fresh.stop();
    }
    const resumed = startTestIndexer(chain, live);
    try {
      await waitUntilIndexed(resumed, chain);
    } finally {
      await resumed.stop();
    }
    expect(await readIndexedRows(live)).toEqual(await readIndexedRows(scratch));
    await expectTablesMatchChain(chain, live);
  });

  test("behavior: a backfill in one-block batches writes the same rows as one in a single batch", async () => {
    // Each batch is applied while the one before it is still being written: a row that batch holds comes from memory.
    await marketActivity(chain);
    await chain.mine(TEST_FINALITY_DEPTH + 1);
    const [whole, blockByBlock] = [await newDatabase(), await newDatabase()];
    for (const [database, backfillBatchBlocks] of [
      [whole, undefined],
      [blockByBlock, 1],
    ] as const) {
      const indexer = startTestIndexer(chain, database, { backfillBatchBlocks });
      try {
        await waitUntilIndexed(indexer, chain);
      } finally {
        await indexer.stop();
      }
    }
    expect(await readIndexedRows(blockByBlock)).toEqual(await readIndexedRows(whole));
    await expectTablesMatchChain(chain, blockByBlock);
  });

  test("behavior: replaying an already-indexed range changes nothing", async () => {
    const database = await newDatabase();
    const indexer = startTestIndexer(chain, database);
    await waitUntilIndexed(indexer, chain);
    await indexer.stop();
    const before = await readIndexedRows(database);
    // Move the cursor back to the deployment, as if every commit since had been lost, and index again.
    const start = chain.deployment.contracts.PaymentToken.blockNumber;
    const block = await chain.client.getBlock({ blockNumber: BigInt(start) });
    await database.pool.query(
      "UPDATE indexer_cursor SET block_number = ?, block_hash = ?, finalized_block_number = ? WHERE chain_id = 31337",
      [start, block.hash, start],
    );
    await database.pool.query("DELETE FROM indexer_blocks");
    await database.pool.query("DELETE FROM indexer_undo_log");
    const replay = startTestIndexer(chain, database);
    try {
      await waitUntilIndexed(replay, chain);
    } finally {
      await replay.stop();
    }
    expect(await readIndexedRows(database)).toEqual(before);
  });

  test("behavior: a pending relayer row is completed in place, keeping its request id", async () => {
    const database = await newDatabase();
    const [, alice] = chain.accounts as [string, `0x${string}`];
    await chain.client.setAutomine(false);
    const hash = await chain.client.writeContract({
      account: chain.operator,
      chain: chain.client.chain,
      address: chain.deployment.contracts.CertificateRegistry.address,
      abi: (await import("@certchain/contracts")).certificateRegistryAbi,
      functionName: "issue",
      args: [alice, "bafyrelayed", 0n],
    });
    const requestId = "01935c4e-0000-7000-8000-000000000001";
    await insertPendingRelayerRow(
      database,
      hash,
      chain.operator,
      chain.deployment.contracts.CertificateRegistry.address,
      requestId,
    );
    await chain.mine(1);
    await chain.client.setAutomine(true);
    const indexer = startTestIndexer(chain, database);
    try {
      await waitUntilIndexed(indexer, chain);
    } finally {
      await indexer.stop();
    }
    const rows = await readIndexedRows(database);
    const row = rows.transactions.find((t) => t.tx_hash === hash);
    expect(row?.status).toBe("completed");
    expect(row?.tx_request_id).toBe(requestId);
    expect(row?.block_number).toBeGreaterThan(0);
    const [count] = await database.pool.query("SELECT COUNT(*) AS n FROM transactions WHERE tx_hash = ?", [hash]);
    expect((count as Array<{ n: number }>)[0]?.n).toBe(1);
  });
});

describe("text longer than its column", () => {
  test("behavior: CIDs and reasons are cut at whole characters: a 200-emoji CID whole, longer ones to their column", async () => {
    const own = await startTestChain();
    const ownDatabase = await createTestDatabase();
    const indexer = startTestIndexer(own, ownDatabase);
    try {
      const [, holder] = own.accounts as [`0x${string}`, `0x${string}`];
      const fits = "🎓".repeat(200); // 200 characters, 400 UTF-16 units, 800 bytes: fits VARCHAR(255)
      const tooLong = "🎓".repeat(300);
      const reason = "€".repeat(30_000); // 90,000 bytes of UTF-8, past TEXT's 65,535
      const fitting = await own.issueCertificate(holder, fits);
      const cut = await own.issueCertificate(holder, tooLong);
      await own.revoke(cut, reason);
      await waitUntilIndexed(indexer, own);
      const rows = await readIndexedRows(ownDatabase);
      expect(rows.certificates.find((c) => c.token_id === fitting)?.ipfs_hash).toBe(fits);
      const revoked = rows.certificates.find((c) => c.token_id === cut);
      expect(revoked?.ipfs_hash).toBe("🎓".repeat(255));
      expect(revoked?.revocation_reason).toBe("€".repeat(21_845));
    } finally {
      await indexer.stop();
      await ownDatabase.drop();
      await own.stop();
    }
  });
});
