import { createLogger, createShutdown } from "@certchain/common";
import type { DbHandle } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import type { Address } from "viem";
import { expect } from "vitest";
import { createIndexer, type Indexer, type IndexerOptions } from "../src/indexer.ts";
import { createMetrics } from "../src/metrics.ts";
import { readIndexedRows } from "../src/store/store.ts";
import type { TestChain } from "./chain.ts";
import { registerPlatformWallet } from "./relayer-rows.ts";

/** The reorg window the tests run with: small, so "deeper than the window" is cheap to make. */
export const TEST_FINALITY_DEPTH = 8;

export type TestIndexer = Indexer & { running: Promise<void> };

type TestIndexerOptions = Partial<IndexerOptions> & {
  finalityDepth?: number;
  wsUrl?: string;
  logLevel?: "silent" | "debug";
};

/** An indexer on the test chain and database, already running (as leader, or standby if another holds the lease). */
export function startTestIndexer(
  chain: TestChain,
  database: DbHandle & { url: string },
  options: TestIndexerOptions = {},
): TestIndexer {
  const indexer = createTestIndexer(chain, database, options);
  const running = indexer.run();
  // Failures surface through `status()` and `running`; never as an unhandled rejection.
  running.catch(() => undefined);
  return Object.assign(indexer, { running });
}

/** An indexer on the test chain and database, not started. */
export function createTestIndexer(
  chain: TestChain,
  database: DbHandle & { url: string },
  options: TestIndexerOptions = {},
): Indexer {
  const config = {
    databaseUrl: database.url,
    ethNodeUrl: chain.rpcUrl,
    ethWsUrl: options.wsUrl,
    chainId: 31337,
    finalityDepth: options.finalityDepth ?? TEST_FINALITY_DEPTH,
    dbPoolSize: undefined,
    dbSlowQueryMs: 0,
  };
  const common = {
    config,
    logger: createLogger({ logLevel: options.logLevel ?? "silent" }, "indexer-test"),
    metrics: createMetrics(),
    shutdown: createShutdown(),
  };
  return createIndexer(common, { deployment: chain.deployment, pollIntervalMs: 25, leaseTtlMs: 1_000, ...options });
}

/** Waits until the indexer has committed the node's current head (or `block`). */
export async function waitUntilIndexed(
  indexer: Indexer,
  chain: TestChain,
  block?: number,
  timeoutMs = 30_000,
): Promise<void> {
  const target = block ?? (await chain.headNumber());
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = indexer.status();
    if (status.failure) throw status.failure;
    if (status.deepReorg) throw status.deepReorg;
    // The tip must also be the node's block at that height (after a same-height reorg the number alone says nothing).
    if (status.indexedBlock !== null && status.indexedBlock >= target) {
      const [row] = await indexer.db.pool
        .query("SELECT block_hash FROM indexer_cursor WHERE chain_id = 31337")
        .then(([rows]) => rows as Array<{ block_hash: string }>);
      const block = await chain.client.getBlock({ blockNumber: BigInt(status.indexedBlock) });
      if (row?.block_hash === block.hash) return;
    }
    if (Date.now() > deadline) throw new Error(`indexer did not reach block ${target} (at ${status.indexedBlock})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Asserts that the tables say exactly what the contracts' views say: owner, revocation and CID of every token;
 * status, seller and price of every listing (a listing the contract still calls active is `stale` in our table when
 * the token moved or was revoked since, as the contract would refuse to sell it).
 */
export async function expectTablesMatchChain(chain: TestChain, database: DbHandle, context = ""): Promise<void> {
  const truth = await chain.readContractState();
  const rows = await readIndexedRows(database);
  expect(
    rows.certificates.map((c) => c.token_id),
    context,
  ).toEqual(truth.certificates.map((c) => c.tokenId));
  for (const [i, certificate] of truth.certificates.entries()) {
    const row = rows.certificates[i];
    expect(
      { owner: row?.owner_address, status: row?.status, uri: `ipfs://${row?.ipfs_hash}` },
      `${context} certificate ${certificate.tokenId}`,
    ).toEqual({ owner: certificate.owner, status: certificate.revoked ? "invalid" : "valid", uri: certificate.uri });
  }
  expect(
    rows.listings.map((l) => l.listing_id),
    context,
  ).toEqual(truth.listings.map((l) => l.listingId));
  for (const [i, listing] of truth.listings.entries()) {
    const row = rows.listings[i];
    const token = truth.certificates[listing.tokenId - 1];
    const sellable =
      token && token.owner === listing.seller && !token.revoked && token.transferCount === listing.transferCount;
    const expected = listing.status === "active" ? (sellable ? "active" : "stale") : listing.status;
    expect(
      { seller: row?.seller_address, price: row?.price, status: row?.status },
      `${context} listing ${listing.listingId}`,
    ).toEqual({ seller: listing.seller, price: listing.price.toString(), status: expected });
  }
}

/** The hashes of every canonical transaction that emitted a log of our contracts, from the node itself. */
export async function canonicalPlatformTxHashes(chain: TestChain): Promise<string[]> {
  const { contracts } = chain.deployment;
  const logs = await chain.client.getLogs({
    address: [contracts.CertificateRegistry.address, contracts.Marketplace.address, contracts.PaymentToken.address],
    fromBlock: 0n,
    toBlock: "latest",
  });
  return [...new Set(logs.map((log) => log.transactionHash as string))].sort();
}

/**
 * Mined rows of `transactions` are exactly the canonical platform transactions (`pending` relayer rows aside), plus
 * those of `alsoMined` (transactions without platform logs that must have a row: ETH transfers of platform wallets,
 * relayed transactions that reverted) that are canonical now.
 */
export async function expectTransactionsCanonical(
  chain: TestChain,
  database: DbHandle,
  context = "",
  alsoMined: readonly `0x${string}`[] = [],
): Promise<void> {
  const rows = await readIndexedRows(database);
  const mined = rows.transactions.filter((t) => t.status !== "pending");
  const canonical = new Set(await canonicalPlatformTxHashes(chain));
  for (const hash of alsoMined) {
    if (await chain.client.getTransactionReceipt({ hash }).catch(() => null)) canonical.add(hash);
  }
  expect(mined.map((t) => t.tx_hash).sort(), context).toEqual([...canonical].sort());
}

/**
 * What an uninterrupted indexer writes for `chain`: a fresh database (pushed onto `databases` for the caller to drop)
 * with the same platform wallets, indexed from scratch to the head by an in-process indexer. The reference that
 * crash and fault tests compare their survivor's rows with.
 */
export async function uninterruptedRows(chain: TestChain, wallets: readonly Address[], databases: TestDatabase[]) {
  const reference = await createTestDatabase();
  databases.push(reference);
  for (const wallet of wallets) await registerPlatformWallet(reference, wallet);
  const uninterrupted = startTestIndexer(chain, reference);
  try {
    await waitUntilIndexed(uninterrupted, chain);
  } finally {
    await uninterrupted.stop();
  }
  return readIndexedRows(reference);
}
