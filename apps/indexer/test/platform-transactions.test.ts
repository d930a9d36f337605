import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { type Hash, parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readIndexedRows } from "../src/store/store.ts";
import { ETH, startTestChain, type TestChain } from "./chain.ts";
import {
  expectTablesMatchChain,
  startTestIndexer,
  TEST_FINALITY_DEPTH,
  type TestIndexer,
  waitUntilIndexed,
} from "./harness.ts";
import { type RelayedTransaction, registerPlatformWallet, relayTransaction } from "./relayer-rows.ts";

type Address = `0x${string}`;
let chain: TestChain;
let database: TestDatabase;
let indexer: TestIndexer;
/** Platform users: their custodial wallets are in `wallets`. */
let alice: Address;
let bob: Address;
/** Outsiders. */
let carol: Address;
let dave: Address;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  chain = await startTestChain();
  [, alice, bob, carol, dave] = chain.accounts as [Address, Address, Address, Address, Address];
  database = await newDatabase();
  indexer = startTestIndexer(chain, database);
  await waitUntilIndexed(indexer, chain);
});

afterAll(async () => {
  await indexer?.stop();
  await Promise.all(databases.map((d) => d.drop()));
  await chain?.stop();
});

/** A database whose platform wallets are alice's and bob's. */
async function newDatabase() {
  const created = await createTestDatabase();
  databases.push(created);
  await registerPlatformWallet(created, alice);
  await registerPlatformWallet(created, bob);
  return created;
}

/** Indexes the whole chain into `into` with an indexer of its own (a backfill, for blocks already final). */
async function backfillInto(into: TestDatabase) {
  const backfill = startTestIndexer(chain, into);
  try {
    await waitUntilIndexed(backfill, chain);
  } finally {
    await backfill.stop();
  }
}

const rowOf = async (hash: Hash, db: TestDatabase = database) =>
  (await readIndexedRows(db)).transactions.find((t) => t.tx_hash === hash);

const relay = (
  send: () => Promise<Hash>,
  from: Address,
  to: Address,
  what: RelayedTransaction,
  into: TestDatabase[] = [database],
) => relayTransaction(chain, into, send, { from, to, ...what });

describe("transfers of platform wallets", () => {
  test("default: ETH and payment-token transfers to or from a platform wallet get a row, others none", async () => {
    const inbound = await chain.sendEth(carol, alice, parseEther("2"));
    const outbound = await chain.sendEth(alice, dave, parseEther("1"));
    const betweenOutsiders = await chain.sendEth(carol, dave, parseEther("1"));
    await chain.mintPaymentToken(alice, 100n);
    const tokens = await chain.transferPaymentToken(alice, carol, 40n);
    await waitUntilIndexed(indexer, chain);

    expect(await rowOf(inbound)).toMatchObject({
      kind: "eth_transfer",
      from_address: carol,
      to_address: alice,
      amount: parseEther("2").toString(),
      currency_address: ETH,
      token_id: null,
      status: "completed",
      tx_request_id: null,
    });
    expect(await rowOf(outbound)).toMatchObject({
      kind: "eth_transfer",
      from_address: alice,
      to_address: dave,
      amount: parseEther("1").toString(),
      status: "completed",
    });
    expect(await rowOf(betweenOutsiders)).toBeUndefined();
    // The parties of a token transfer are the token's holders, not the transaction's `to` (the token contract).
    expect(await rowOf(tokens)).toMatchObject({
      kind: "token_transfer",
      from_address: alice,
      to_address: carol,
      amount: "40",
      currency_address: chain.deployment.contracts.PaymentToken.address.toLowerCase(),
      status: "completed",
    });
    const minted = (await readIndexedRows(database)).transactions.find(
      (t) => t.kind === "token_transfer" && t.to_address === alice,
    );
    expect(minted).toMatchObject({ from_address: ETH, amount: "100" });

    // A backfill of the same (now final) blocks writes exactly the rows realtime indexing wrote.
    await chain.mine(TEST_FINALITY_DEPTH + 1);
    await waitUntilIndexed(indexer, chain);
    const scratch = await newDatabase();
    await backfillInto(scratch);
    expect(await readIndexedRows(scratch)).toEqual(await readIndexedRows(database));
    await expectTablesMatchChain(chain, database);
  });

  test("behavior: a relayer's ETH transfer is completed in place, keeping its request id", async () => {
    const amount = parseEther("0.5");
    const { hash, requestId } = await relay(
      () => chain.sendRaw(bob, dave, { value: amount, gas: 21_000n }),
      bob,
      dave,
      { kind: "eth_transfer", amount, currency: ETH },
    );
    await waitUntilIndexed(indexer, chain);
    const receipt = await chain.client.getTransactionReceipt({ hash });
    expect(await rowOf(hash)).toMatchObject({
      kind: "eth_transfer",
      status: "completed",
      amount: amount.toString(),
      tx_request_id: requestId,
      block_number: Number(receipt.blockNumber),
      block_hash: receipt.blockHash,
    });
    const [count] = await database.pool.query("SELECT COUNT(*) AS n FROM transactions WHERE tx_hash = ?", [hash]);
    expect((count as Array<{ n: number }>)[0]?.n).toBe(1);
  });

  test("behavior: a reorg removes an ETH transfer's row and sets a relayer's back to pending; new ones follow", async () => {
    const inbound = await chain.sendEth(carol, alice, parseEther("3"));
    const relayed = await relay(() => chain.sendRaw(alice, dave, { value: 7n, gas: 21_000n }), alice, dave, {
      kind: "eth_transfer",
      amount: 7n,
      currency: ETH,
    });
    await chain.mine(1);
    await waitUntilIndexed(indexer, chain);
    expect(await rowOf(inbound)).toMatchObject({ status: "completed" });
    expect(await rowOf(relayed.hash)).toMatchObject({ status: "completed" });

    await chain.reorg(3);
    await waitUntilIndexed(indexer, chain);
    expect(await rowOf(inbound)).toBeUndefined();
    expect(await rowOf(relayed.hash)).toMatchObject({
      status: "pending",
      kind: "eth_transfer",
      amount: "7",
      tx_request_id: relayed.requestId,
      block_number: null,
      block_hash: null,
      block_timestamp: null,
    });

    const replacement = await chain.sendEth(dave, bob, parseEther("1"));
    await waitUntilIndexed(indexer, chain);
    expect(await rowOf(replacement)).toMatchObject({ kind: "eth_transfer", from_address: dave, to_address: bob });
  });
});

describe("relayer transactions that mine without platform logs", () => {
  const registry = () => chain.deployment.contracts.CertificateRegistry.address.toLowerCase() as Address;

  test("behavior: a relayer transaction that reverted ends failed (reason reverted), keeping what the relayer said", async () => {
    const { hash, requestId } = await relay(
      () => chain.sendRaw(chain.operator, registry(), { data: chain.revertingIssueCall(carol) }),
      chain.operator,
      registry(),
      { kind: "issue" },
    );
    const receipt = await chain.client.getTransactionReceipt({ hash });
    expect(receipt.status).toBe("reverted");
    await waitUntilIndexed(indexer, chain);
    expect(await rowOf(hash)).toMatchObject({
      status: "failed",
      failure_reason: "reverted",
      kind: "issue",
      tx_request_id: requestId,
      from_address: chain.operator,
      to_address: registry(),
      block_number: Number(receipt.blockNumber),
      block_hash: receipt.blockHash,
      log_index: null,
    });
  });

  test("behavior: a reorg that removes the reverted transaction's block sets its row back to pending", async () => {
    const { hash, requestId } = await relay(
      () => chain.sendRaw(chain.operator, registry(), { data: chain.revertingIssueCall(carol) }),
      chain.operator,
      registry(),
      { kind: "issue" },
    );
    await waitUntilIndexed(indexer, chain);
    expect(await rowOf(hash)).toMatchObject({ status: "failed" });
    await chain.reorg(1);
    await waitUntilIndexed(indexer, chain);
    expect(await rowOf(hash)).toMatchObject({
      status: "pending",
      failure_reason: null,
      tx_request_id: requestId,
      block_number: null,
      block_hash: null,
    });
  });

  test("behavior: a backfill completes a zero-value transaction and fails a reverted one, mined long before", async () => {
    // Without platform wallets the indexer reads no block's receipts but those with platform logs: it must still
    // find the pending rows' transactions, by hash.
    const scratch = await createTestDatabase();
    databases.push(scratch);
    const reverted = await relay(
      () => chain.sendRaw(chain.operator, registry(), { data: chain.revertingIssueCall(carol) }),
      chain.operator,
      registry(),
      { kind: "issue" },
      [database, scratch],
    );
    const noop = await relay(
      () => chain.sendRaw(chain.operator, chain.operator, { gas: 21_000n }),
      chain.operator,
      chain.operator,
      { kind: "other", amount: 0n },
      [database, scratch],
    );
    await chain.mine(TEST_FINALITY_DEPTH + 1);
    await backfillInto(scratch);
    expect(await rowOf(reverted.hash, scratch)).toMatchObject({
      status: "failed",
      failure_reason: "reverted",
      tx_request_id: reverted.requestId,
    });
    expect(await rowOf(noop.hash, scratch)).toMatchObject({
      status: "completed",
      kind: "other",
      failure_reason: null,
      tx_request_id: noop.requestId,
    });
    // The same rows in the database indexed in real time (which has wallets, so reads every receipt).
    await waitUntilIndexed(indexer, chain);
    for (const { hash } of [reverted, noop]) {
      const { block_number, status, failure_reason } = (await rowOf(hash)) ?? {};
      expect({ block_number, status, failure_reason }).toEqual({
        block_number: (await rowOf(hash, scratch))?.block_number,
        status: (await rowOf(hash, scratch))?.status,
        failure_reason: (await rowOf(hash, scratch))?.failure_reason,
      });
    }
  });
});

describe("certificate transactions", () => {
  const marketplace = () => chain.deployment.contracts.Marketplace.address.toLowerCase() as Address;

  test("behavior: both parties of an issue, a sale, a transfer and a revocation find it among their transactions", async () => {
    const tokenId = await chain.issueCertificate(alice);
    const price = parseEther("0.3");
    const listingId = await chain.listForSale(alice, tokenId, price);
    await chain.buy(bob, listingId, price);
    await chain.transfer(bob, carol, tokenId);
    await chain.revoke(tokenId);
    await waitUntilIndexed(indexer, chain);

    const rows = async (db: TestDatabase) =>
      (await readIndexedRows(db)).transactions
        .filter((t) => t.token_id === tokenId && t.kind !== "approve")
        .sort((a, b) => (a.block_number ?? 0) - (b.block_number ?? 0))
        .map(({ kind, from_address, to_address, amount }) => ({ kind, from_address, to_address, amount }));
    // The sender of each is the operator (issuer), alice (seller), bob (buyer), bob, the operator: the other party of
    // each is the certificate's recipient, not the contract the transaction called.
    expect(await rows(database)).toEqual([
      { kind: "issue", from_address: chain.operator, to_address: alice, amount: null },
      { kind: "list", from_address: alice, to_address: marketplace(), amount: price.toString() },
      { kind: "buy", from_address: bob, to_address: alice, amount: price.toString() },
      { kind: "transfer", from_address: bob, to_address: carol, amount: null },
      { kind: "revoke", from_address: chain.operator, to_address: carol, amount: null },
    ]);

    // A backfill of the same blocks names the same parties (the holder of a revoked certificate included).
    await chain.mine(TEST_FINALITY_DEPTH + 1);
    await waitUntilIndexed(indexer, chain);
    const scratch = await newDatabase();
    await backfillInto(scratch);
    expect(await rows(scratch)).toEqual(await rows(database));
  });
});
