import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createServerApp } from "../src/server.ts";
import { readIndexedRows } from "../src/store/store.ts";
import { startTestChain, type TestChain } from "./chain.ts";
import {
  createTestIndexer,
  expectTablesMatchChain,
  expectTransactionsCanonical,
  startTestIndexer,
  TEST_FINALITY_DEPTH,
  type TestIndexer,
  waitUntilIndexed,
} from "./harness.ts";
import { insertPendingRelayerRow } from "./relayer-rows.ts";

type Address = `0x${string}`;
let chain: TestChain;
let database: TestDatabase;
let indexer: TestIndexer;
let alice: Address;
let bob: Address;
let carol: Address;

beforeAll(async () => {
  chain = await startTestChain();
  [, alice, bob, carol] = chain.accounts as [Address, Address, Address, Address];
  database = await createTestDatabase();
  indexer = startTestIndexer(chain, database);
  await waitUntilIndexed(indexer, chain);
});

afterAll(async () => {
  await indexer?.stop();
  await database?.drop();
  await chain?.stop();
});

/** Fills the rest of a `depth`-block window after `blocksUsed` blocks of actions, so a reorg of `depth` removes them. */
const padTo = (depth: number, blocksUsed: number) => chain.mine(Math.max(0, depth - blocksUsed));

/** The indexer's status once it reports a deep reorg, stops with a failure, or `timeoutMs` passes. */
async function untilDeepReorg(target: TestIndexer, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!target.status().deepReorg && !target.status().failure && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  return target.status();
}

async function expectConsistent(context: string) {
  await waitUntilIndexed(indexer, chain);
  await expectTablesMatchChain(chain, database, context);
  await expectTransactionsCanonical(chain, database, context);
}

describe("reorgs inside the window", () => {
  test("behavior: reorg of depth 1 removes an issue, and a different issue replaces it", async () => {
    const before = (await readIndexedRows(database)).certificates.length;
    await chain.issueCertificate(alice, "bafyorphan");
    await waitUntilIndexed(indexer, chain);
    expect((await readIndexedRows(database)).certificates.length).toBe(before + 1);
    await chain.reorg(1);
    await expectConsistent("after reorg");
    expect((await readIndexedRows(database)).certificates.length).toBe(before);
    await chain.issueCertificate(bob, "bafycanonical");
    await expectConsistent("after replacement");
    const rows = await readIndexedRows(database);
    expect(rows.certificates.at(-1)).toMatchObject({ owner_address: bob, ipfs_hash: "bafycanonical" });
  });

  test("behavior: reorg of depth 2 removes a revoke and restores the stale listing to active", async () => {
    const tokenId = await chain.issueCertificate(alice, "bafyrevoked");
    const listingId = await chain.listForSale(alice, tokenId, parseEther("1"));
    await chain.mine(TEST_FINALITY_DEPTH);
    await chain.revoke(tokenId, "mistake");
    await padTo(2, 1);
    await waitUntilIndexed(indexer, chain);
    let rows = await readIndexedRows(database);
    expect(rows.certificates.find((c) => c.token_id === tokenId)?.status).toBe("invalid");
    expect(rows.listings.find((l) => l.listing_id === listingId)?.status).toBe("stale");
    await chain.reorg(2);
    await expectConsistent("after reorg");
    rows = await readIndexedRows(database);
    expect(rows.certificates.find((c) => c.token_id === tokenId)).toMatchObject({ status: "valid", revoked_at: null });
    expect(rows.listings.find((l) => l.listing_id === listingId)?.status).toBe("active");
    await chain.revoke(tokenId, "another reason");
    await expectConsistent("after replacement");
    rows = await readIndexedRows(database);
    expect(rows.certificates.find((c) => c.token_id === tokenId)?.revocation_reason).toBe("another reason");
  });

  test("behavior: reorg of depth 5 removes a transfer, and a transfer to someone else replaces it", async () => {
    const tokenId = await chain.issueCertificate(alice);
    await chain.mine(TEST_FINALITY_DEPTH);
    await chain.transfer(alice, bob, tokenId);
    await padTo(5, 1);
    await waitUntilIndexed(indexer, chain);
    expect((await readIndexedRows(database)).certificates.find((c) => c.token_id === tokenId)?.owner_address).toBe(bob);
    await chain.reorg(5);
    await expectConsistent("after reorg");
    expect((await readIndexedRows(database)).certificates.find((c) => c.token_id === tokenId)?.owner_address).toBe(
      alice,
    );
    await chain.transfer(alice, carol, tokenId);
    await expectConsistent("after replacement");
    expect((await readIndexedRows(database)).certificates.find((c) => c.token_id === tokenId)?.owner_address).toBe(
      carol,
    );
  });

  test("behavior: reorg of FINALITY_DEPTH removes a listing and its sale, and a cancellation replaces them", async () => {
    const tokenId = await chain.issueCertificate(alice);
    await chain.listForSale(alice, tokenId, parseEther("1")); // may approve first: two blocks at most
    await chain.mine(TEST_FINALITY_DEPTH);
    const head = await chain.headNumber();
    const listingId = await chain.listForSale(alice, tokenId, parseEther("2"));
    await chain.buy(carol, listingId, parseEther("2"));
    await chain.withdraw(alice);
    const used = (await chain.headNumber()) - head;
    await padTo(TEST_FINALITY_DEPTH, used);
    await waitUntilIndexed(indexer, chain);
    expect((await readIndexedRows(database)).listings.find((l) => l.listing_id === listingId)?.status).toBe("sold");
    await chain.reorg(TEST_FINALITY_DEPTH);
    await expectConsistent("after reorg");
    const rows = await readIndexedRows(database);
    expect(rows.listings.find((l) => l.listing_id === listingId)).toBeUndefined();
    expect(rows.certificates.find((c) => c.token_id === tokenId)?.owner_address).toBe(alice);
    await chain.cancelListing(alice, listingId - 1);
    await expectConsistent("after replacement");
    expect(indexer.status().role).toBe("leader");
  });

  test("behavior: a reorg that removes a relayer's transaction sets its row back to pending", async () => {
    await chain.client.setAutomine(false);
    const { certificateRegistryAbi } = await import("@certchain/contracts");
    const registry = chain.deployment.contracts.CertificateRegistry.address;
    const hash = await chain.client.writeContract({
      account: chain.operator,
      chain: chain.client.chain,
      address: registry,
      abi: certificateRegistryAbi,
      functionName: "issue",
      args: [alice, "bafyrelayed", 0n],
    });
    const requestId = "01935c4e-0000-7000-8000-0000000000aa";
    await insertPendingRelayerRow(database, hash, chain.operator, registry, requestId);
    await chain.mine(1);
    await chain.client.setAutomine(true);
    await waitUntilIndexed(indexer, chain);
    const row = async () => (await readIndexedRows(database)).transactions.find((t) => t.tx_hash === hash);
    expect(await row()).toMatchObject({ status: "completed", tx_request_id: requestId });
    await chain.reorg(1);
    await waitUntilIndexed(indexer, chain);
    expect(await row()).toMatchObject({
      status: "pending",
      tx_request_id: requestId,
      block_number: null,
      block_hash: null,
    });
    expect(Number(await indexer.status().indexedBlock)).toBe(await chain.headNumber());
  });
});

describe("reorg deeper than the window", () => {
  test("error: stops indexing, /readyz answers 503, and the orphaned rows are reported, not silently kept", async () => {
    const app = createServerApp({ metrics: (await import("../src/metrics.ts")).createMetrics() }, indexer);
    await waitUntilIndexed(indexer, chain);
    expect((await app.request("/readyz")).status).toBe(200);
    await chain.issueCertificate(alice, "bafydeep");
    await chain.mine(TEST_FINALITY_DEPTH);
    await waitUntilIndexed(indexer, chain);
    await chain.reorg(TEST_FINALITY_DEPTH + 1);
    const status = await untilDeepReorg(indexer);
    expect(status.deepReorg?.indexedHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(status.deepReorg?.canonicalHash).not.toBe(status.deepReorg?.indexedHash);
    const readyz = await app.request("/readyz");
    expect(readyz.status).toBe(503);
    expect(JSON.stringify(await readyz.json())).toContain("reorg deeper than the finality window");
    expect((await app.request("/healthz")).status).toBe(200);

    // Recovery: `--rebuild` resets the indexed state and indexes the canonical chain from the deployment blocks.
    await indexer.stop();
    const recovery = createTestIndexer(chain, database);
    await recovery.rebuild();
    await recovery.stop();
    indexer = startTestIndexer(chain, database);
    await waitUntilIndexed(indexer, chain);
    await expectTablesMatchChain(chain, database, "after rebuild");
    await expectTransactionsCanonical(chain, database, "after rebuild");
  });

  test("behavior: --rebuild-from the fork block undoes what the orphaned blocks did and re-indexes the rest", async () => {
    await waitUntilIndexed(indexer, chain);
    // Before the fork: a certificate, and another one listed for sale.
    const kept = await chain.issueCertificate(alice, "bafykept");
    const listed = await chain.issueCertificate(bob, "bafylisted");
    const listingId = await chain.listForSale(bob, listed, parseEther("1"));
    await chain.mine(TEST_FINALITY_DEPTH);
    const fork = (await chain.headNumber()) + 1;
    // After it, in blocks a deep reorg orphans: the first is transferred, the second sold, a third issued.
    await chain.transfer(alice, carol, kept);
    await chain.buy(carol, listingId, parseEther("1"));
    const orphan = await chain.issueCertificate(carol, "bafyorphan");
    await chain.mine(TEST_FINALITY_DEPTH);
    await waitUntilIndexed(indexer, chain);
    await chain.reorg((await chain.headNumber()) - fork + 1);
    expect((await untilDeepReorg(indexer)).deepReorg).not.toBeNull();
    await indexer.stop();

    const recovery = createTestIndexer(chain, database);
    try {
      // From a block above the fork, rows from orphaned blocks would stay: refused, naming the block to start from.
      await expect(recovery.rebuildFrom(fork + 2)).rejects.toThrow(`rebuild from block ${fork} or earlier`);
      await recovery.rebuildFrom(fork);
    } finally {
      await recovery.stop();
    }
    indexer = startTestIndexer(chain, database);
    await waitUntilIndexed(indexer, chain);
    await expectTablesMatchChain(chain, database, "after rebuild-from");
    await expectTransactionsCanonical(chain, database, "after rebuild-from");
    const rows = await readIndexedRows(database);
    expect(rows.certificates.find((c) => c.token_id === kept)?.owner_address).toBe(alice);
    expect(rows.certificates.find((c) => c.token_id === listed)?.owner_address).toBe(bob);
    expect(rows.listings.find((l) => l.listing_id === listingId)?.status).toBe("active");
    expect(rows.certificates.find((c) => c.token_id === orphan)).toBeUndefined();
  });

  test("behavior: --rebuild-from re-reads every block after the newest row it keeps, where the fork may hide", async () => {
    await waitUntilIndexed(indexer, chain);
    await chain.issueCertificate(alice, "bafybeforefork");
    await chain.mine(TEST_FINALITY_DEPTH);
    const snapshot = await chain.snapshot();
    // The orphaned chain: twenty blocks without a platform event, then a certificate.
    await chain.mine(20);
    await chain.issueCertificate(alice, "bafyorphanedlate");
    const orphanBlock = await chain.headNumber();
    await chain.mine(TEST_FINALITY_DEPTH * 2);
    await waitUntilIndexed(indexer, chain);
    const orphanedHead = await chain.headNumber();
    // The canonical chain forks right after the snapshot and issues a certificate in its first block.
    await chain.revert(snapshot);
    await chain.issueCertificate(bob, "bafycanonicalearly");
    await chain.mine(orphanedHead - (await chain.headNumber()) + 2);
    expect((await untilDeepReorg(indexer)).deepReorg).not.toBeNull();
    await indexer.stop();

    // Every row below the orphaned certificate's block is canonical, so that block is accepted as the start; the
    // canonical certificate in the blocks between must still be indexed.
    const recovery = createTestIndexer(chain, database);
    try {
      await recovery.rebuildFrom(orphanBlock);
    } finally {
      await recovery.stop();
    }
    indexer = startTestIndexer(chain, database);
    await waitUntilIndexed(indexer, chain);
    await expectTablesMatchChain(chain, database, "after rebuild-from above the fork");
    const cids = (await readIndexedRows(database)).certificates.map((c) => c.ipfs_hash);
    expect(cids).toContain("bafycanonicalearly");
    expect(cids).not.toContain("bafyorphanedlate");
  });
});

describe("reorg deeper than the window, while backfilling", () => {
  test("error: a restart mid-backfill finds the final block it stands on replaced and reports it, keeping no orphaned row", async () => {
    const own = await startTestChain();
    const ownDatabase = await createTestDatabase();
    try {
      const [, holder] = own.accounts as [Address, Address];
      const fork = (await own.headNumber()) + 1;
      await own.issueCertificate(holder, "bafyorphaned");
      await own.mine(300);
      // One block per batch, stopped well inside the backfill: the cursor is final, far below the head.
      const first = startTestIndexer(own, ownDatabase, { backfillBatchBlocks: 1 });
      while ((first.status().indexedBlock ?? 0) <= fork + 20) await new Promise((r) => setTimeout(r, 5));
      await first.stop();
      const stoppedAt = first.status().indexedBlock ?? 0;
      expect(stoppedAt).toBeLessThan((await own.headNumber()) - TEST_FINALITY_DEPTH);

      await own.reorg((await own.headNumber()) - fork + 1);
      const second = startTestIndexer(own, ownDatabase);
      const status = await untilDeepReorg(second, 20_000);
      await second.stop();
      expect(status.deepReorg?.canonicalHash).not.toBe(status.deepReorg?.indexedHash);
      // It stopped where it stood: nothing of the new chain was written on top of the orphaned rows.
      expect(status.indexedBlock).toBe(stoppedAt);

      const recovery = createTestIndexer(own, ownDatabase);
      try {
        await recovery.rebuild();
      } finally {
        await recovery.stop();
      }
      const third = startTestIndexer(own, ownDatabase);
      try {
        await waitUntilIndexed(third, own);
      } finally {
        await third.stop();
      }
      await expectTablesMatchChain(own, ownDatabase, "after rebuild");
      expect(
        (await readIndexedRows(ownDatabase)).certificates.find((c) => c.ipfs_hash === "bafyorphaned"),
      ).toBeUndefined();
    } finally {
      await ownDatabase.drop();
      await own.stop();
    }
  }, 120_000);
});
