import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@certchain/common";
import { certificateRegistryAbi, reorgAnvil } from "@certchain/contracts";
import { transactions, txRequestHashes, txRequests, walletNonces } from "@certchain/db";
import { eq, like, sql } from "drizzle-orm";
import {
  type Address,
  type Hash,
  parseEther,
  parseTransaction,
  recoverTransactionAddress,
  type TransactionSerialized,
} from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { createNonceReservations } from "../src/nonces.ts";
import type { Relayer } from "../src/relayer.ts";
import { OPERATOR, type Stack, startStack } from "./fixtures.ts";

let stack: Stack;
let relayer: Relayer | undefined;
beforeAll(async () => {
  stack = await startStack();
});
afterEach(async () => {
  await relayer?.close();
  relayer = undefined;
  await stack.rpc("evm_setAutomine", [true]);
});
afterAll(() => stack?.close());

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const hashOf = (variant: { txHash: `0x${string}` } | undefined) => {
  if (!variant) throw new Error("no variant persisted");
  return variant.txHash;
};
const variantsOf = (requestId: string) =>
  stack.database.db.select().from(txRequestHashes).where(eq(txRequestHashes.txRequestId, requestId));
const statusOf = async (requestId: string) =>
  (await stack.database.db.query.txRequests.findFirst({ where: (t, { eq }) => eq(t.id, requestId) }))?.status;
const hex = (value: bigint) => `0x${value.toString(16)}`;
const setBalance = (address: Address, wei: bigint) => stack.rpc("anvil_setBalance", [address, hex(wei)]);
/** Whether the node has the transaction (in its pool or mined). */
const nodeKnows = async (hash: Hash) =>
  (await stack.client.getTransaction({ hash }).catch(() => undefined)) !== undefined;

/** A custodial wallet holding `wei`, and ETH transfers from it through the relayer. */
async function walletWith(name: string, wei: bigint) {
  const user = await stack.createCustodialUser(name);
  await setBalance(user.address, wei);
  const transfer = (idempotencyKey: string, to: Address, amount: bigint) =>
    stack.submit({
      userId: user.userId,
      from: user.address,
      idempotencyKey,
      kind: "eth_transfer",
      payload: { to, amount: amount.toString() },
    });
  return { ...user, transfer };
}

describe("stuck, dropped and reorged transactions", () => {
  test("behavior: a stuck transaction is replaced with the same nonce and ≥ 10 % higher fees, and lands once", async () => {
    const recipient = "0x00000000000000000000000000000000000000b1";
    relayer = await stack.startRelayer({ relayerReplaceAfterMs: 400, finalityDepth: 2 });
    await stack.rpc("evm_setAutomine", [false]);
    const id = await stack.submit({
      idempotencyKey: "stuck",
      kind: "eth_transfer",
      payload: { to: recipient, amount: "42" },
    });
    const variants = await waitFor("two fee bumps", async () => {
      const rows = await variantsOf(id);
      return rows.length >= 3 && rows;
    });
    const [original, bump] = [...variants].sort((a, b) => a.id - b.id);
    expect(original?.purpose).toBe("original");
    expect(bump?.purpose).toBe("speed_up");
    expect(bump?.nonce).toBe(original?.nonce);
    const fee = (value: bigint | null | undefined) => value ?? 0n;
    expect(fee(bump?.maxFeePerGas) * 10n).toBeGreaterThanOrEqual(fee(original?.maxFeePerGas) * 11n);
    expect(fee(bump?.maxPriorityFeePerGas) * 10n).toBeGreaterThanOrEqual(fee(original?.maxPriorityFeePerGas) * 11n);
    for (const variant of variants) {
      const sender = await recoverTransactionAddress({ serializedTransaction: variant.rawTx as TransactionSerialized });
      expect(sender.toLowerCase(), `sender of the ${variant.purpose} ${variant.txHash}`).toBe(OPERATOR);
    }

    await stack.rpc("anvil_mine", ["0x2"]);
    const [row] = await stack.waitForFinal([id]);
    expect(row?.status).toBe("confirmed");
    const final = await variantsOf(id);
    const mined = final.filter((variant) => variant.status === "mined");
    expect(mined).toHaveLength(1);
    // The node took each replacement in place of the one before: what lands is a replacement, not the original.
    expect(mined[0]?.purpose).toBe("speed_up");
    expect(row?.txHash).toBe(mined[0]?.txHash);
    // In the history the losers end failed; the winner's row is the indexer's to complete (none runs here).
    const history = await stack.database.db.select().from(transactions).where(eq(transactions.txRequestId, id));
    expect(history).toHaveLength(final.length);
    for (const entry of history) {
      expect([entry.status, entry.failureReason], entry.txHash).toEqual(
        entry.txHash === row?.txHash ? ["pending", null] : ["failed", "replaced"],
      );
    }
    expect(await stack.client.getBalance({ address: recipient })).toBe(42n);
    const replacements = (await relayer.metrics.replacements.get()).values[0]?.value ?? 0;
    expect(replacements).toBeGreaterThanOrEqual(2);
  });

  test("behavior: a transaction dropped from the mempool is rebroadcast and lands once", async () => {
    const recipient = "0x00000000000000000000000000000000000000b2";
    relayer = await stack.startRelayer({ finalityDepth: 2 });
    await stack.rpc("evm_setAutomine", [false]);
    const id = await stack.submit({
      idempotencyKey: "dropped",
      kind: "eth_transfer",
      payload: { to: recipient, amount: "43" },
    });
    await waitFor("sent", async () => (await statusOf(id)) === "sent");
    const [variant] = await variantsOf(id);
    await stack.rpc("anvil_dropTransaction", [variant?.txHash]);
    await waitFor("the rebroadcast", async () => nodeKnows(hashOf(variant)));
    await stack.rpc("anvil_mine", ["0x2"]);
    const [row] = await stack.waitForFinal([id]);
    expect(row).toMatchObject({ status: "confirmed", txHash: variant?.txHash });
    expect(await variantsOf(id)).toHaveLength(1);
    expect(await stack.client.getBalance({ address: recipient })).toBe(43n);
  });

  test("behavior: a dropped transaction its wallet cannot pay for any more waits, is reported once with the balance, and lands once paid", async () => {
    const recipient = "0x00000000000000000000000000000000000000b7";
    const logDir = mkdtempSync(join(tmpdir(), "certchain-relayer-log-"));
    try {
      const spender = await walletWith("spender", parseEther("1"));
      relayer = await stack.startRelayer(
        { finalityDepth: 2 },
        { logger: createLogger({ logLevel: "warn", logDir }, "relayer") },
      );
      await stack.rpc("evm_setAutomine", [false]);
      const id = await spender.transfer("unpaid", recipient, 44n);
      await waitFor("sent", async () => (await statusOf(id)) === "sent");
      const [variant] = await variantsOf(id);
      // Emptied first, so no rebroadcast can come between the drop and the balance.
      await setBalance(spender.address, 0n);
      await stack.rpc("anvil_dropTransaction", [variant?.txHash]);

      const warnings = () =>
        readFileSync(join(logDir, "relayer.log"), "utf8")
          .split("\n")
          .filter((line) => line.includes(`cannot pay for ${variant?.txHash}`));
      const [warning] = await waitFor("the refused rebroadcast reported", async () => {
        const found = existsSync(join(logDir, "relayer.log")) ? warnings() : [];
        return found.length > 0 && found;
      });
      expect(warning).toContain("it holds 0 wei");
      // Twenty more polls refused the same way add nothing to the log, and the request is neither failed nor resent.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(warnings()).toHaveLength(1);
      expect(await statusOf(id)).toBe("sent");

      await setBalance(spender.address, parseEther("1"));
      await waitFor("the rebroadcast", async () => nodeKnows(hashOf(variant)));
      await stack.rpc("anvil_mine", ["0x2"]);
      const [row] = await stack.waitForFinal([id]);
      expect(row).toMatchObject({ status: "confirmed", txHash: variant?.txHash });
      expect(await variantsOf(id)).toHaveLength(1);
      expect(await stack.client.getBalance({ address: recipient })).toBe(44n);
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
  });

  test("behavior: when the wallet can no longer pay for a fee bump, the cheaper original is sent again and lands", async () => {
    const recipient = "0x00000000000000000000000000000000000000b8";
    const spender = await walletWith("bumped", parseEther("1"));
    relayer = await stack.startRelayer({ relayerReplaceAfterMs: 400, finalityDepth: 2 });
    await stack.rpc("evm_setAutomine", [false]);
    const id = await spender.transfer("bumped", recipient, 1000n);
    await waitFor("a fee bump", async () => (await variantsOf(id)).length >= 2);
    const original = (await variantsOf(id)).find((variant) => variant.purpose === "original");
    if (!original) throw new Error("no original persisted");
    const signed = parseTransaction(original.rawTx as TransactionSerialized);
    const originalCost = (signed.gas ?? 0n) * (signed.maxFeePerGas ?? 0n) + (signed.value ?? 0n);
    // The wallet now holds what the original may cost and no more, and the node forgets every variant.
    await setBalance(spender.address, originalCost);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const bumped = await variantsOf(id);
    for (const variant of bumped) await stack.rpc("anvil_dropTransaction", [variant.txHash]);

    await waitFor("the original sent again", async () => nodeKnows(original.txHash));
    // No bump the wallet cannot pay for is signed meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await variantsOf(id)).toHaveLength(bumped.length);
    await stack.rpc("anvil_mine", ["0x2"]);
    const [row] = await stack.waitForFinal([id]);
    expect(row).toMatchObject({ status: "confirmed", txHash: original.txHash });
    expect(await stack.client.getBalance({ address: recipient })).toBe(1000n);
  });

  test("behavior: a dropped transaction now below the base fee gets new fees at once, not after the replace delay", async () => {
    const recipient = "0x00000000000000000000000000000000000000ba";
    relayer = await stack.startRelayer({ finalityDepth: 2 }); // replacements only after a minute
    await stack.rpc("evm_setAutomine", [false]);
    const id = await stack.submit({
      idempotencyKey: "dropped-underpriced",
      kind: "eth_transfer",
      payload: { to: recipient, amount: "47" },
    });
    await waitFor("sent", async () => (await statusOf(id)) === "sent");
    const [original] = await variantsOf(id);
    const base = (await stack.client.getBlock()).baseFeePerGas ?? 0n;
    await stack.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base * 10n)]);
    await stack.rpc("anvil_mine", ["0x1"]);
    await stack.rpc("anvil_dropTransaction", [original?.txHash]);

    const bump = await waitFor("a replacement with new fees", async () =>
      (await variantsOf(id)).find((variant) => variant.purpose === "speed_up"),
    );
    expect(bump.maxFeePerGas ?? 0n).toBeGreaterThanOrEqual((await stack.client.getBlock()).baseFeePerGas ?? 0n);
    await stack.rpc("anvil_mine", ["0x2"]);
    const [row] = await stack.waitForFinal([id]);
    expect(row).toMatchObject({ status: "confirmed", txHash: bump.txHash });
    expect(await stack.client.getBalance({ address: recipient })).toBe(47n);
  });

  test("behavior: a mined transaction that a reorg drops goes back to sent, is mined again and confirmed once", async () => {
    const recipient = "0x00000000000000000000000000000000000000b3";
    relayer = await stack.startRelayer({ finalityDepth: 3 });
    await stack.rpc("evm_setAutomine", [false]);
    const id = await stack.submit({
      idempotencyKey: "reorged",
      kind: "eth_transfer",
      payload: { to: recipient, amount: "44" },
    });
    await waitFor("sent", async () => (await statusOf(id)) === "sent");
    await stack.rpc("anvil_mine", ["0x1"]);
    await waitFor("mined", async () => (await statusOf(id)) === "mined");
    const minedIn = (await stack.database.db.query.txRequests.findFirst({ where: (t, { eq }) => eq(t.id, id) }))
      ?.blockHash;

    await reorgAnvil(stack.rpc, 1);
    expect(await stack.client.getBalance({ address: recipient })).toBe(0n);
    await waitFor("back to sent", async () => (await statusOf(id)) === "sent");
    await waitFor("the rebroadcast", async () => {
      const [variant] = await variantsOf(id);
      return nodeKnows(hashOf(variant));
    });
    await stack.rpc("anvil_mine", ["0x3"]);
    const [row] = await stack.waitForFinal([id]);
    expect(row?.status).toBe("confirmed");
    expect(row?.blockHash).not.toBe(minedIn);
    expect(await stack.client.getBalance({ address: recipient })).toBe(44n);
  });
});

/**
 * A JSON-RPC front for the test's anvil that answers 503 to every request carrying a raw transaction (as a node or a
 * balancer in trouble would) until `accept` is called; everything else goes through to anvil.
 */
async function startRefusingNode(target: string) {
  let refusing = true;
  let refused = 0;
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    if (refusing && body.includes("eth_sendRawTransaction")) {
      refused += 1;
      response.writeHead(503).end();
      return;
    }
    const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
    response.writeHead(upstream.status, { "content-type": "application/json" }).end(await upstream.text());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused: () => refused,
    accept: () => {
      refusing = false;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe("broadcasts that fail", () => {
  test("behavior: a signed request whose fee fell below the base fee while its broadcast failed is signed again and lands", async () => {
    const recipient = "0x00000000000000000000000000000000000000b9";
    const node = await startRefusingNode(stack.anvil.rpcUrl);
    try {
      relayer = await stack.startRelayer({}, { rpcUrl: node.url });
      const id = await stack.submit({
        idempotencyKey: "underpriced",
        kind: "eth_transfer",
        payload: { to: recipient, amount: "46" },
      });
      await waitFor("a refused broadcast", async () => (await statusOf(id)) === "signed" && node.refused() > 0);
      const [original] = await variantsOf(id);
      const base = (await stack.client.getBlock()).baseFeePerGas ?? 0n;
      await stack.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base * 10n)]);
      await stack.rpc("anvil_mine", ["0x1"]);
      expect(original?.maxFeePerGas ?? 0n).toBeLessThan((await stack.client.getBlock()).baseFeePerGas ?? 0n);
      node.accept();

      const [row] = await stack.waitForFinal([id], 20_000);
      expect(row?.status).toBe("confirmed");
      const variants = await variantsOf(id);
      const mined = variants.filter((variant) => variant.status === "mined");
      expect(mined).toHaveLength(1);
      expect(mined[0]?.purpose).toBe("speed_up");
      expect(mined[0]?.nonce).toBe(original?.nonce);
      expect(await stack.client.getBalance({ address: recipient })).toBe(46n);
    } finally {
      await relayer?.close();
      relayer = undefined;
      await node.close();
    }
  });

  test("behavior: a signed request whose broadcast failed is sent while another process keeps its wallet busy", async () => {
    const recipient = "0x00000000000000000000000000000000000000b4";
    const node = await startRefusingNode(stack.anvil.rpcUrl);
    let lease: string | undefined;
    try {
      relayer = await stack.startRelayer({}, { rpcUrl: node.url });
      const id = await stack.submit({
        idempotencyKey: "broadcast-refused",
        kind: "eth_transfer",
        payload: { to: recipient, amount: "45" },
      });
      await waitFor("a refused broadcast", async () => (await statusOf(id)) === "signed" && node.refused() > 0);
      // Another relayer process takes the wallet and keeps it (a busy wallet's drains follow one another); it sends
      // only queued requests, so this one is this process's to send.
      const [request] = await stack.database.db.select().from(txRequests).where(eq(txRequests.id, id));
      lease = `${stack.redisPrefix}:relayer:lease:wallet:${request?.fromAddress}`;
      await stack.redis.set(lease, "elsewhere:1:busy", "PX", 60_000);
      node.accept();

      await waitFor("sent", async () => ["sent", "mined", "confirmed"].includes((await statusOf(id)) ?? ""));
      await stack.rpc("anvil_mine", ["0x2"]);
      const [row] = await stack.waitForFinal([id], 15_000);
      expect(row).toMatchObject({ status: "confirmed", txHash: request?.txHash });
      expect(await variantsOf(id)).toHaveLength(1);
      expect(await stack.client.getBalance({ address: recipient })).toBe(45n);
      // Still held elsewhere: the request did not wait for that process to let go.
      expect(await stack.redis.get(lease)).toBe("elsewhere:1:busy");
    } finally {
      await relayer?.close();
      relayer = undefined;
      await node.close();
      // The other process "stops": the later tests send from the same wallet.
      if (lease) await stack.redis.del(lease);
    }
  });
});

describe("nonce self-repair and funds", () => {
  test("behavior: on start, a nonce gap left by a lost reservation is filled with no-op self-transfers", async () => {
    relayer = await stack.startRelayer();
    await stack.waitForFinal([
      await stack.submit({
        idempotencyKey: "before-gap",
        kind: "eth_transfer",
        payload: { to: "0x00000000000000000000000000000000000000c1", amount: "1" },
      }),
    ]);
    await relayer.close();
    await stack.database.db
      .update(walletNonces)
      .set({ nextNonce: sql`${walletNonces.nextNonce} + 3` })
      .where(eq(walletNonces.address, OPERATOR));

    relayer = await stack.startRelayer();
    const id = await stack.submit({
      idempotencyKey: "after-gap",
      kind: "eth_transfer",
      payload: { to: "0x00000000000000000000000000000000000000c2", amount: "2" },
    });
    const [row] = await stack.waitForFinal([id]);
    expect(row?.status).toBe("confirmed");
    const fillers = await stack.database.db
      .select()
      .from(txRequests)
      .where(eq(txRequests.kind, "noop"))
      .orderBy(txRequests.nonce);
    expect(fillers.map((filler) => filler.status)).toEqual(["confirmed", "confirmed", "confirmed"]);
    expect(fillers.map((filler) => filler.nonce)).toEqual([1, 2, 3].map((offset) => (row?.nonce ?? 0) - 4 + offset));
    const latest = await stack.client.getTransactionCount({ address: OPERATOR, blockTag: "latest" });
    expect(await stack.client.getTransactionCount({ address: OPERATOR, blockTag: "pending" })).toBe(latest);
    expect(latest).toBe((row?.nonce ?? 0) + 1);
  });

  test("behavior: a nonce taken by a transaction sent outside the relayer is given up for a fresh one", async () => {
    const recipient = "0x00000000000000000000000000000000000000c3";
    relayer = await stack.startRelayer();
    await stack.waitForFinal([
      await stack.submit({ idempotencyKey: "sync", kind: "eth_transfer", payload: { to: recipient, amount: "1" } }),
    ]);
    await stack.mintTokens(OPERATOR, 1n); // the operator's next nonce, used behind the relayer's back
    const id = await stack.submit({
      idempotencyKey: "after-foreign",
      kind: "eth_transfer",
      payload: { to: recipient, amount: "10" },
    });
    const [row] = await stack.waitForFinal([id]);
    expect(row?.status).toBe("confirmed");
    expect((await variantsOf(id)).map((variant) => variant.status).sort()).toEqual(["dropped", "mined"]);
    expect(await stack.client.getBalance({ address: recipient })).toBe(11n);
  });

  test("error: in production, a custodial wallet without ETH fails with insufficient_funds and is not funded", async () => {
    relayer = await stack.startRelayer({ nodeEnv: "production" });
    const poor = await stack.createCustodialUser("poor");
    const id = await stack.submit({
      userId: poor.userId,
      from: poor.address,
      idempotencyKey: "poor",
      kind: "eth_transfer",
      payload: { to: OPERATOR, amount: "1" },
    });
    const [row] = await stack.waitForFinal([id]);
    expect(row).toMatchObject({ status: "failed", errorCode: "insufficient_funds", nonce: null });
    const funding = await stack.database.db
      .select()
      .from(txRequests)
      .where(like(txRequests.idempotencyKey, `dev-funding:${poor.address}%`));
    expect(funding).toEqual([]);
  });

  test("behavior: RELAYER_MAX_FEE_PER_GAS_WEI caps what an original transaction pays per gas, not only the bumps", async () => {
    const base = (await stack.client.getBlock()).baseFeePerGas ?? 0n;
    const market = await stack.client.estimateFeesPerGas();
    const cap = (base + market.maxFeePerGas) / 2n;
    expect(cap).toBeLessThan(market.maxFeePerGas);
    relayer = await stack.startRelayer({ relayerMaxFeePerGasWei: cap });
    const id = await stack.submit({
      idempotencyKey: "capped",
      kind: "eth_transfer",
      payload: { to: "0x00000000000000000000000000000000000000cb", amount: "3" },
    });
    const [row] = await stack.waitForFinal([id]);
    expect(row?.status).toBe("confirmed");
    const [variant] = await variantsOf(id);
    expect(variant?.maxFeePerGas).toBe(cap);
    expect(variant?.maxPriorityFeePerGas ?? 0n).toBeLessThanOrEqual(cap);
  });

  test("error: requests that each fit the balance but together exceed it: the one that does not fit fails, the rest land", async () => {
    relayer = await stack.startRelayer({ nodeEnv: "production" });
    const spender = await walletWith("overdrawn", parseEther("1"));
    const transfer = (key: string, amount: bigint) =>
      spender.transfer(key, "0x00000000000000000000000000000000000000c9", amount);
    const ids = [];
    for (const key of ["o1", "o2", "o3"]) ids.push(await transfer(key, parseEther("0.4")));
    ids.push(await transfer("o4", 1n));
    const rows = await stack.waitForFinal(ids);
    expect(rows.map((row) => row.status)).toEqual(["confirmed", "confirmed", "failed", "confirmed"]);
    expect(rows[2]).toMatchObject({ errorCode: "insufficient_funds", nonce: null });
    expect(rows[3]?.nonce).toBe(2);
    expect(await stack.client.getBalance({ address: "0x00000000000000000000000000000000000000c9" })).toBe(
      parseEther("0.8") + 1n,
    );
  });

  test("error: a mined transfer a reorg took off the chain still counts against the balance until it is mined again", async () => {
    relayer = await stack.startRelayer({ nodeEnv: "production", finalityDepth: 3 });
    const spender = await walletWith("reorged", parseEther("1"));
    const transfer = (key: string) =>
      spender.transfer(key, "0x00000000000000000000000000000000000000d1", parseEther("0.6"));
    const followerLease = `${stack.redisPrefix}:relayer:lease:follower`;
    try {
      const first = await transfer("reorged-1");
      await waitFor("the first mined", async () => (await statusOf(first)) === "mined");
      // The follower is a pass behind (another process holds its lease) when a reorg takes the first transfer out.
      await stack.redis.set(followerLease, "elsewhere:1:slow", "PX", 60_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await reorgAnvil((method, params) => stack.rpc(method, params), 1);
      const second = await transfer("reorged-2");
      const [row] = await stack.waitForFinal([second]);
      expect(row).toMatchObject({ status: "failed", errorCode: "insufficient_funds", nonce: null });

      await stack.redis.del(followerLease);
      // Sent again and mined in a new block, then final once blocks pile up on it.
      await waitFor("the first confirmed", async () => {
        await stack.rpc("anvil_mine", ["0x1"]);
        return (await statusOf(first)) === "confirmed";
      });
    } finally {
      await stack.redis.del(followerLease);
    }
  });

  test("behavior: a fee bump may not spend what another unmined transaction of the wallet may cost", async () => {
    relayer = await stack.startRelayer({ nodeEnv: "production", relayerReplaceAfterMs: 2_000, finalityDepth: 1 });
    const spender = await walletWith("bumper", parseEther("1"));
    await stack.rpc("evm_setAutomine", [false]);
    const transfer = (key: string) =>
      spender.transfer(key, "0x00000000000000000000000000000000000000d3", parseEther("0.1"));
    const ids = [await transfer("bumper-1"), await transfer("bumper-2")];
    await waitFor("both sent", async () => (await Promise.all(ids.map(statusOf))).every((s) => s === "sent"));
    const sentAt = Date.now();
    // The wallet now holds what both may cost as signed, and less than a 12.5 % bump of either would add.
    let mostBoth = 0n;
    let leastBumpExtra: bigint | undefined;
    for (const id of ids) {
      const [variant] = await variantsOf(id);
      if (!variant) throw new Error("no variant persisted");
      const tx = parseTransaction(variant.rawTx as TransactionSerialized);
      const gasCost = (tx.gas ?? 0n) * (tx.maxFeePerGas ?? 0n);
      mostBoth += gasCost + (tx.value ?? 0n);
      const bumpExtra = gasCost / 8n;
      if (leastBumpExtra === undefined || bumpExtra < leastBumpExtra) leastBumpExtra = bumpExtra;
    }
    const margin = (leastBumpExtra ?? 0n) / 2n;
    await setBalance(spender.address, mostBoth + margin);
    // Past the replace delay, and some polls more: neither is bumped, since the bump would leave the other unpayable.
    await new Promise((resolve) => setTimeout(resolve, sentAt + 4_000 - Date.now()));
    for (const id of ids) expect((await variantsOf(id)).map((variant) => variant.purpose)).toEqual(["original"]);

    await setBalance(spender.address, parseEther("1"));
    await stack.rpc("evm_setAutomine", [true]);
    await stack.rpc("anvil_mine", ["0x1"]);
    const rows = await stack.waitForFinal(ids);
    expect(rows.map((row) => row?.status)).toEqual(["confirmed", "confirmed"]);
  });

  test("behavior: short of the market's price, a stuck transaction is replaced at the most the wallet can pay", async () => {
    relayer = await stack.startRelayer({ nodeEnv: "production", relayerReplaceAfterMs: 1_000, finalityDepth: 1 });
    const spender = await walletWith("stall", parseEther("1"));
    await stack.rpc("evm_setAutomine", [false]);
    const value = parseEther("0.1");
    const transfer = (key: string) => spender.transfer(key, "0x00000000000000000000000000000000000000d7", value);
    const ids = [await transfer("stall-1"), await transfer("stall-2")];
    await waitFor("both sent", async () => (await Promise.all(ids.map(statusOf))).every((s) => s === "sent"));
    const [first, second] = await Promise.all(
      ids.map(async (id) => {
        const [variant] = await variantsOf(id);
        if (!variant) throw new Error("no variant persisted");
        return parseTransaction(variant.rawTx as TransactionSerialized);
      }),
    );
    const gas = first?.gas ?? 0n;
    const tip = first?.maxPriorityFeePerGas ?? 0n;
    // The base fee jumps twentyfold: both wait, and the market's price for a bump is 1.2 × that base plus a tip.
    const base = (first?.maxFeePerGas ?? 0n) * 20n;
    await stack.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)]);
    await stack.rpc("anvil_mine", ["0x1"]);
    // Enough for the second as signed and for the first at the base fee plus a bumped tip: not the market's price.
    const secondCost = (second?.gas ?? 0n) * (second?.maxFeePerGas ?? 0n) + (second?.value ?? 0n);
    const bumpTip = (tip * 12n) / 10n;
    await setBalance(spender.address, secondCost + gas * (base + bumpTip) + value);

    const bump = await waitFor("a replacement the wallet can pay", async () =>
      (await variantsOf(ids[0] as string)).find((variant) => variant.purpose === "speed_up"),
    );
    expect(bump.maxFeePerGas ?? 0n).toBeGreaterThan(base);
    expect(bump.maxFeePerGas ?? 0n).toBeLessThanOrEqual(base + bumpTip);
    await stack.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)]);
    await stack.rpc("anvil_mine", ["0x1"]);
    await waitFor("the first mined", async () =>
      ["mined", "confirmed"].includes((await statusOf(ids[0] as string)) ?? ""),
    );

    await setBalance(spender.address, parseEther("1"));
    await stack.rpc("evm_setAutomine", [true]);
    await stack.rpc("anvil_mine", ["0x1"]);
    const rows = await stack.waitForFinal(ids);
    expect(rows.map((row) => row?.status)).toEqual(["confirmed", "confirmed"]);
  });

  test("behavior: a request whose cancel loses its nonce after an earlier lost nonce still ends failed", async () => {
    relayer = await stack.startRelayer({ nodeEnv: "production" });
    const spender = await walletWith("twice", parseEther("1"));
    await stack.rpc("anvil_impersonateAccount", [spender.address]);
    const foreign = async (nonce: number) => {
      const base = (await stack.client.getBlock()).baseFeePerGas ?? 0n;
      await stack.rpc("eth_sendTransaction", [
        {
          from: spender.address,
          to: "0x00000000000000000000000000000000000000ee",
          value: "0x0",
          nonce: hex(BigInt(nonce)),
          maxFeePerGas: hex(base * 2n + parseEther("0.000000002")),
          maxPriorityFeePerGas: hex(parseEther("0.000000002")),
          gas: "0x5208",
        },
      ]);
    };
    const lease = `${stack.redisPrefix}:relayer:lease:wallet:${spender.address}`;
    const recipient = "0x00000000000000000000000000000000000000d2";
    try {
      await stack.rpc("evm_setAutomine", [false]);
      const doomed = await spender.transfer("twice", recipient, parseEther("0.5"));
      await waitFor("sent", async () => (await statusOf(doomed)) === "sent");
      // A transaction sent outside the relayer takes its nonce: it goes back to the queue, for a fresh one.
      await stack.redis.set(lease, "elsewhere:1:busy", "PX", 120_000);
      await foreign(0);
      await stack.rpc("anvil_mine", ["0x1"]);
      await stack.rpc("evm_setAutomine", [true]);
      await waitFor("re-queued", async () => (await statusOf(doomed)) === "queued");
      // A later request of the wallet reserves nonces for both; then the wallet cannot pay for the first any more,
      // so it is cancelled, and a transaction sent outside the relayer takes the cancel's nonce too.
      const later = await spender.transfer("twice-later", "0x00000000000000000000000000000000000000d4", 1n);
      const laterNonce = await createNonceReservations(stack.database.db).reserve(later, spender.address);
      await setBalance(spender.address, parseEther("0.01"));
      await foreign(laterNonce - 1);
      await stack.redis.del(lease);
      await waitFor("cancelling", async () => {
        const [row] = await stack.database.db.select().from(txRequests).where(eq(txRequests.id, doomed));
        return row?.errorCode === "insufficient_funds" && row.status !== "queued";
      });
      await setBalance(spender.address, parseEther("1"));

      const [row] = await stack.waitForFinal([doomed]);
      expect(row).toMatchObject({ status: "failed", errorCode: "insufficient_funds" });
      expect(await stack.client.getBalance({ address: recipient })).toBe(0n);
    } finally {
      await stack.redis.del(lease);
      await stack.rpc("anvil_stopImpersonatingAccount", [spender.address]);
    }
  });

  test("behavior: a request that fails its simulation after its nonce was reserved cancels the nonce with a no-op", async () => {
    const farFuture = String(Math.floor(Date.now() / 1000) + 86_400);
    const doomed = await stack.submit({
      idempotencyKey: "doomed",
      kind: "revoke",
      payload: { tokenId: "4242", reason: "x" },
    });
    const fine = await stack.submit({
      idempotencyKey: "fine",
      kind: "issue",
      payload: { to: OPERATOR, cid: "bafy-fine", expiresAt: farFuture },
    });
    // What a racing worker does: reserving for `fine` first reserves for the earlier `doomed`, in submission order.
    const nonces = createNonceReservations(stack.database.db);
    const count = (blockTag: "latest" | "pending") => stack.client.getTransactionCount({ address: OPERATOR, blockTag });
    await nonces.repair(OPERATOR, { latest: await count("latest"), pending: await count("pending") });
    const fineNonce = await nonces.reserve(fine, OPERATOR);

    relayer = await stack.startRelayer();
    const [doomedRow, fineRow] = await stack.waitForFinal([doomed, fine]);
    expect(doomedRow).toMatchObject({ status: "failed", errorCode: "UnknownCertificate", nonce: fineNonce - 1 });
    expect((await variantsOf(doomed)).map((variant) => [variant.purpose, variant.status])).toEqual([
      ["cancel", "mined"],
    ]);
    expect(fineRow).toMatchObject({ status: "confirmed", nonce: fineNonce });
    expect(await count("latest")).toBe(fineNonce + 1);
  });

  test("behavior: a failed request whose cancel loses its nonce to a foreign transaction ends failed and never runs", async () => {
    const farFuture = String(Math.floor(Date.now() / 1000) + 86_400);
    const registry = stack.deployment.contracts.CertificateRegistry.address;
    const totalIssued = () =>
      stack.client.readContract({ address: registry, abi: certificateRegistryAbi, functionName: "totalIssued" });
    const next = (await totalIssued()) + 1n;
    // Revoking a certificate that does not exist yet fails; the issue queued after it creates that very certificate.
    const doomed = await stack.submit({
      idempotencyKey: "doomed-lost",
      kind: "revoke",
      payload: { tokenId: String(next), reason: "x" },
    });
    const fine = await stack.submit({
      idempotencyKey: "fine-lost",
      kind: "issue",
      payload: { to: OPERATOR, cid: "bafy-fine-lost", expiresAt: farFuture },
    });
    const nonces = createNonceReservations(stack.database.db);
    const count = (blockTag: "latest" | "pending") => stack.client.getTransactionCount({ address: OPERATOR, blockTag });
    await nonces.repair(OPERATOR, { latest: await count("latest"), pending: await count("pending") });
    const fineNonce = await nonces.reserve(fine, OPERATOR);
    // A transaction sent outside the relayer takes the nonce the revoke's cancel needs.
    await stack.mintTokens(OPERATOR, 1n);

    relayer = await stack.startRelayer();
    const [doomedRow, fineRow] = await stack.waitForFinal([doomed, fine]);
    expect(fineRow).toMatchObject({ status: "confirmed", nonce: fineNonce });
    expect(await totalIssued()).toBe(next);
    expect(doomedRow).toMatchObject({ status: "failed", errorCode: "UnknownCertificate", nonce: fineNonce - 1 });
    expect(
      await stack.client.readContract({
        address: registry,
        abi: certificateRegistryAbi,
        functionName: "isRevoked",
        args: [next],
      }),
    ).toBe(false);
    expect((await variantsOf(doomed)).map((variant) => [variant.purpose, variant.status])).toEqual([
      ["cancel", "dropped"],
    ]);
  });
});
