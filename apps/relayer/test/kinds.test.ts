import { certificateRegistryAbi, marketplaceAbi, paymentTokenAbi } from "@certchain/contracts";
import { parseEther, zeroAddress } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { OPERATOR, type Stack, startStack } from "./fixtures.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await stack.startRelayer();
  await stack.mintTokens(OPERATOR, 1_000_000n);
});
afterAll(() => stack?.close());

const registry = () => ({
  address: stack.deployment.contracts.CertificateRegistry.address,
  abi: certificateRegistryAbi,
});
const marketplace = () => ({ address: stack.deployment.contracts.Marketplace.address, abi: marketplaceAbi });
const token = () => ({ address: stack.deployment.contracts.PaymentToken.address, abi: paymentTokenAbi });
/** `Marketplace.ListingStatus.Cancelled`. */
const LISTING_CANCELLED = 3;
const farFuture = String(Math.floor(Date.now() / 1000) + 86_400 * 365);

async function run(request: Parameters<Stack["submit"]>[0]) {
  const requestId = await stack.submit(request);
  const [row] = await stack.waitForFinal([requestId]);
  if (!row) throw new Error(`request ${requestId} vanished`);
  return row;
}

describe("every job kind, end to end", () => {
  test("behavior: issue, approve, list, buy with ETH, withdraw, revoke, roles, transfers land on chain", async () => {
    const alice = await stack.createCustodialUser("alice");
    const bob = await stack.createCustodialUser("bob");

    const issued = await run({
      idempotencyKey: "issue-1",
      kind: "issue",
      payload: { to: alice.address, cid: "bafy-1", expiresAt: farFuture },
    });
    expect(issued).toMatchObject({ status: "confirmed", errorCode: null });
    expect(
      (await stack.client.readContract({ ...registry(), functionName: "ownerOf", args: [1n] })).toLowerCase(),
    ).toBe(alice.address);

    // alice's wallet holds no ETH: development funding from the operator pays for her transactions.
    const approved = await run({
      userId: alice.userId,
      from: alice.address,
      idempotencyKey: "a1",
      kind: "approve",
      payload: { asset: "certificate", tokenId: "1" },
    });
    expect(approved.status).toBe("confirmed");
    const listed = await run({
      userId: alice.userId,
      from: alice.address,
      idempotencyKey: "l1",
      kind: "list",
      payload: { tokenId: "1", currency: zeroAddress, price: parseEther("0.5").toString() },
    });
    expect(listed.status).toBe("confirmed");
    const bought = await run({
      userId: bob.userId,
      from: bob.address,
      idempotencyKey: "b1",
      kind: "buy",
      payload: { listingId: "1", expectedPrice: parseEther("0.5").toString(), currency: zeroAddress },
    });
    expect(bought.status).toBe("confirmed");
    expect(
      (await stack.client.readContract({ ...registry(), functionName: "ownerOf", args: [1n] })).toLowerCase(),
    ).toBe(bob.address);

    const before = await stack.client.getBalance({ address: alice.address });
    const withdrawn = await run({
      userId: alice.userId,
      from: alice.address,
      idempotencyKey: "w1",
      kind: "withdraw",
      payload: { currency: zeroAddress },
    });
    expect(withdrawn.status).toBe("confirmed");
    expect(await stack.client.getBalance({ address: alice.address })).toBeGreaterThan(before);

    const revoked = await run({
      idempotencyKey: "revoke-1",
      kind: "revoke",
      payload: { tokenId: "1", reason: "mistake" },
    });
    expect(revoked.status).toBe("confirmed");
    expect(await stack.client.readContract({ ...registry(), functionName: "isRevoked", args: [1n] })).toBe(true);

    const issuerRole = await stack.client.readContract({ ...registry(), functionName: "ISSUER_ROLE" });
    await run({ idempotencyKey: "grant-1", kind: "grant_issuer", payload: { account: bob.address } });
    expect(
      await stack.client.readContract({ ...registry(), functionName: "hasRole", args: [issuerRole, bob.address] }),
    ).toBe(true);
    await run({ idempotencyKey: "ungrant-1", kind: "revoke_issuer", payload: { account: bob.address } });
    expect(
      await stack.client.readContract({ ...registry(), functionName: "hasRole", args: [issuerRole, bob.address] }),
    ).toBe(false);

    const sent = await run({
      idempotencyKey: "eth-1",
      kind: "eth_transfer",
      payload: { to: bob.address, amount: "12345" },
    });
    expect(sent.status).toBe("confirmed");

    const bobTokens = await stack.client.readContract({ ...token(), functionName: "balanceOf", args: [bob.address] });
    await run({ idempotencyKey: "tok-1", kind: "token_transfer", payload: { to: bob.address, amount: "777" } });
    expect(await stack.client.readContract({ ...token(), functionName: "balanceOf", args: [bob.address] })).toBe(
      bobTokens + 777n,
    );
  });

  test("behavior: list and buy in payment tokens, then cancel a listing", async () => {
    const carol = await stack.createCustodialUser("carol");
    const dave = await stack.createCustodialUser("dave");
    await run({
      idempotencyKey: "issue-c",
      kind: "issue",
      payload: { to: carol.address, cid: "bafy-c", expiresAt: farFuture },
    });
    const tokenId = "2";
    await run({
      userId: carol.userId,
      from: carol.address,
      idempotencyKey: "ac",
      kind: "approve",
      payload: { asset: "certificate", tokenId },
    });
    const currency = stack.deployment.contracts.PaymentToken.address.toLowerCase() as `0x${string}`;
    await run({
      userId: carol.userId,
      from: carol.address,
      idempotencyKey: "lc",
      kind: "list",
      payload: { tokenId, currency, price: "1000" },
    });
    await run({ idempotencyKey: "fund-dave", kind: "token_transfer", payload: { to: dave.address, amount: "5000" } });
    await run({
      userId: dave.userId,
      from: dave.address,
      idempotencyKey: "ad",
      kind: "approve",
      payload: { asset: "payment_token", amount: "1000" },
    });
    const bought = await run({
      userId: dave.userId,
      from: dave.address,
      idempotencyKey: "bd",
      kind: "buy",
      payload: { listingId: "2", expectedPrice: "1000", currency },
    });
    expect(bought.status).toBe("confirmed");
    expect(
      (
        await stack.client.readContract({ ...registry(), functionName: "ownerOf", args: [BigInt(tokenId)] })
      ).toLowerCase(),
    ).toBe(dave.address);

    await run({
      userId: dave.userId,
      from: dave.address,
      idempotencyKey: "ad2",
      kind: "approve",
      payload: { asset: "certificate", tokenId },
    });
    await run({
      userId: dave.userId,
      from: dave.address,
      idempotencyKey: "ld",
      kind: "list",
      payload: { tokenId, currency: zeroAddress, price: "99" },
    });
    const cancelled = await run({
      userId: dave.userId,
      from: dave.address,
      idempotencyKey: "cd",
      kind: "cancel",
      payload: { listingId: "3" },
    });
    expect(cancelled.status).toBe("confirmed");
    const listing = await stack.client.readContract({ ...marketplace(), functionName: "listing", args: [3n] });
    expect(listing.status).toBe(LISTING_CANCELLED);
  });
});
