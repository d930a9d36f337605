import { certificateRegistryAbi, marketplaceAbi } from "@certchain/contracts";
import { type TxRequest, txRequestHashes, txRequests } from "@certchain/db";
import type { TxStatusEvent } from "@certchain/queue";
import { eq } from "drizzle-orm";
import { type Address, parseEther, parseEventLogs, zeroAddress } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { type Stack, startStack, testRelayerConfig } from "./fixtures.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await stack.startRelayer();
});
afterEach(() => stack.rpc("evm_setAutomine", [true]));
afterAll(() => stack?.close());

const farFuture = String(Math.floor(Date.now() / 1000) + 86_400 * 365);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const load = async (requestId: string) => {
  const [row] = await stack.database.db.select().from(txRequests).where(eq(txRequests.id, requestId));
  if (!row) throw new Error(`request ${requestId} vanished`);
  return row;
};
const variantsOf = (requestId: string) =>
  stack.database.db.select().from(txRequestHashes).where(eq(txRequestHashes.txRequestId, requestId));

/** Records every status event, in order, until `stop`. */
async function watchStatuses() {
  const subscriber = stack.redis.duplicate();
  const events: TxStatusEvent[] = [];
  await subscriber.subscribe(`${stack.redisPrefix}:tx-status`);
  subscriber.on("message", (_channel, message) => events.push(JSON.parse(message) as TxStatusEvent));
  return {
    events,
    indexOf: (requestId: string, status: TxStatusEvent["status"]) =>
      events.findIndex((event) => event.requestId === requestId && event.status === status),
    stop: async () => {
      await sleep(50);
      subscriber.disconnect();
    },
  };
}

/** A user whose custodial wallet holds ETH, so no development funding gets in the way of the order under test. */
async function fundedUser(name: string) {
  const user = await stack.createCustodialUser(name);
  await stack.rpc("anvil_setBalance", [user.address, `0x${parseEther("10").toString(16)}`]);
  return user;
}

async function issueTo(owner: Address, cid: string): Promise<bigint> {
  const id = await stack.submit({
    idempotencyKey: `issue-${cid}`,
    kind: "issue",
    payload: { to: owner, cid, expiresAt: farFuture },
  });
  const [row] = await stack.waitForFinal([id]);
  expect(row?.status).toBe("confirmed");
  const receipt = await stack.client.getTransactionReceipt({ hash: row?.txHash as `0x${string}` });
  const [issued] = parseEventLogs({ abi: certificateRegistryAbi, logs: receipt.logs, eventName: "CertificateIssued" });
  if (!issued) throw new Error(`no CertificateIssued in ${row?.txHash}`);
  return issued.args.tokenId;
}

describe("dependent requests", () => {
  test("behavior: a list waits unsigned until its approval is mined, then lands after it", async () => {
    const alice = await fundedUser("alice");
    const tokenId = await issueTo(alice.address, "bafy-dep-1");
    const statuses = await watchStatuses();
    await stack.rpc("evm_setAutomine", [false]);

    const approve = await stack.submit({
      userId: alice.userId,
      from: alice.address,
      idempotencyKey: "approve-1",
      kind: "approve",
      payload: { asset: "certificate", tokenId: tokenId.toString() },
    });
    const list = await stack.submit({
      userId: alice.userId,
      from: alice.address,
      idempotencyKey: "list-1",
      kind: "list",
      payload: { tokenId: tokenId.toString(), currency: zeroAddress, price: "1000" },
      dependsOn: approve,
    });
    await waitFor("the approval to be sent", async () => (await load(approve)).status === "sent");
    // Many polls with the approval pending: the list must still have no nonce, no signature, no simulation verdict.
    await sleep(10 * testRelayerConfig.relayerPollMs);
    expect(await load(list)).toMatchObject({ status: "queued", nonce: null, rawTx: null, errorCode: null });
    expect(await variantsOf(list)).toEqual([]);

    await stack.rpc("anvil_mine", ["0x1"]);
    await waitFor("the list to be sent", async () => (await load(list)).status === "sent");
    await stack.rpc("anvil_mine", ["0x1"]);
    const [approved, listed] = (await stack.waitForFinal([approve, list])) as [TxRequest, TxRequest];
    await statuses.stop();

    expect(approved.status).toBe("confirmed");
    expect(listed.status).toBe("confirmed");
    expect(listed.nonce).toBe((approved.nonce ?? -1) + 1);
    expect(listed.blockNumber).toBeGreaterThan(approved.blockNumber ?? Number.POSITIVE_INFINITY);
    // The list got its nonce (signed, in the same MySQL transaction) only after the approval was reported mined.
    expect(statuses.indexOf(approve, "mined")).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf(list, "signed")).toBeGreaterThan(statuses.indexOf(approve, "mined"));
    const listing = await stack.client.readContract({
      address: stack.deployment.contracts.Marketplace.address,
      abi: marketplaceAbi,
      functionName: "listing",
      args: [1n],
    });
    expect(listing.seller.toLowerCase()).toBe(alice.address);
    expect(listing.tokenId).toBe(tokenId);
  });

  test("error: when the dependency fails, the dependent fails with dependency_failed and sends nothing", async () => {
    const bob = await stack.createCustodialUser("bob");
    const owner = await fundedUser("owner");
    const tokenId = await issueTo(owner.address, "bafy-dep-2");
    const statuses = await watchStatuses();

    // bob does not own the certificate: the approval reverts in its simulation.
    const approve = await stack.submit({
      userId: bob.userId,
      from: bob.address,
      idempotencyKey: "approve-not-mine",
      kind: "approve",
      payload: { asset: "certificate", tokenId: tokenId.toString() },
    });
    const list = await stack.submit({
      userId: bob.userId,
      from: bob.address,
      idempotencyKey: "list-not-mine",
      kind: "list",
      payload: { tokenId: tokenId.toString(), currency: zeroAddress, price: "1000" },
      dependsOn: approve,
    });
    const [approved, listed] = (await stack.waitForFinal([approve, list])) as [TxRequest, TxRequest];
    await statuses.stop();

    expect(approved).toMatchObject({ status: "failed", nonce: null });
    expect(approved.errorCode).not.toBe("dependency_failed");
    expect(listed).toMatchObject({ status: "failed", errorCode: "dependency_failed", nonce: null, txHash: null });
    expect(listed.errorMessage).toBe(`depends on request ${approve}, which ended failed (${approved.errorCode})`);
    expect(await variantsOf(list)).toEqual([]);
    expect(await stack.client.getTransactionCount({ address: bob.address })).toBe(0);
    expect(statuses.events).toContainEqual({
      requestId: list,
      status: "failed",
      txHash: null,
      errorCode: "dependency_failed",
    });
  });

  test("behavior: resubmitting a dependent request with its key returns the same request and sends once", async () => {
    const carol = await fundedUser("carol");
    const tokenId = await issueTo(carol.address, "bafy-dep-3");
    const approve = await stack.submit({
      userId: carol.userId,
      from: carol.address,
      idempotencyKey: "approve-again",
      kind: "approve",
      payload: { asset: "certificate", tokenId: tokenId.toString() },
    });
    const listRequest = {
      userId: carol.userId,
      from: carol.address,
      idempotencyKey: "list-again",
      kind: "list",
      payload: { tokenId: tokenId.toString(), currency: zeroAddress, price: "7" },
      dependsOn: approve,
    } as const;
    const [first, second] = await Promise.all([stack.submit(listRequest), stack.submit(listRequest)]);
    expect(second).toBe(first);
    const [, listed] = await stack.waitForFinal([approve, first]);
    expect(listed).toMatchObject({ status: "confirmed", dependsOn: approve });
    expect(await stack.submit(listRequest)).toBe(first);
    expect(
      await stack.database.db.select().from(txRequests).where(eq(txRequests.idempotencyKey, "list-again")),
    ).toHaveLength(1);
    expect(await variantsOf(first)).toHaveLength(1);
  });
});
