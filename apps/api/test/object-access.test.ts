import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import { certificateRegistryAbi } from "@certchain/contracts";
import { certificates, listings, txRequests, users } from "@certchain/db";
import { eq } from "drizzle-orm";
import { type Address, createWalletClient, http, parseEventLogs, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { appRouter } from "../src/root.ts";
import { bearer, createTestApi, type TestApi, type TrpcResult } from "./helpers.ts";

/**
 * Object-level authorization (OWASP API1), generated from the router like the function-level matrix: every procedure
 * either names the objects it acts on — and then each of six callers (anonymous, the owner, another user, the issuer,
 * another issuer, an admin) gets exactly the expected answer for someone else's object, never its data — or says why
 * it has none. A new procedure without an entry fails the first test.
 */
const callers = ["anonymous", "owner", "otherUser", "issuer", "otherIssuer", "admin"] as const;
type Caller = (typeof callers)[number];
/** `allow`: passes the object check (any non-401/403/404 answer); a number: that exact HTTP status. */
type Expected = "allow" | 401 | 403 | 404;

type ObjectCase = {
  kind: "query" | "mutation";
  /** The input naming the owner's object, built once the fixtures exist. */
  input: () => unknown;
  expect: Record<Caller, Expected>;
};

/** Procedures that act on nothing but the caller's own account, or on public data, and why. */
const noObjects: Record<string, string> = {
  "auth.register": "creates a new account",
  "auth.login": "the caller's own credentials",
  "auth.logout": "the caller's own session",
  "auth.logoutAll": "the caller's own sessions",
  "auth.profile": "the caller's own account",
  "auth.siweNonce": "a fresh nonce for anyone",
  "auth.siweVerify": "links or signs in the signer's own address",
  "certificates.get": "certificates are public records",
  "certificates.list": "certificates are public records",
  "certificates.verify": "verification is public",
  "certificates.verifyDocument": "verification is public",
  "certificates.create": "issues from the caller's own wallet (function-level: issuers only)",
  "market.listings": "listings are public",
  "market.buy": "any user may buy any active listing; buying one's own is a 409 (mutations.test.ts)",
  "market.withdraw": "the caller's own proceeds",
  "account.balance": "the caller's own wallet",
  "account.transfer": "from the caller's own wallet",
  "account.transactions": "the caller's own transactions",
  "admin.grantIssuer": "admins only (function-level matrix)",
  "admin.revokeIssuer": "admins only (function-level matrix)",
  "admin.createApiKey": "admins only (function-level matrix); API keys are not callable with a key (api-keys.test.ts)",
  "admin.listApiKeys": "admins only (function-level matrix)",
  "admin.revokeApiKey": "admins only (function-level matrix)",
  "tx.onStatus": "the same owner check as tx.status, over SSE (tx-stream.test.ts)",
};

const fixture = { tokenId: 0, listingId: 5150, requestId: "" };

const objectCases: Record<string, ObjectCase> = {
  "tx.status": {
    kind: "query",
    input: () => ({ requestId: fixture.requestId }),
    expect: { anonymous: 401, owner: "allow", otherUser: 404, issuer: 404, otherIssuer: 404, admin: 404 },
  },
  // The certificate is the issuer's to revoke (and an admin's); its holder and everyone else are refused.
  "certificates.invalidate": {
    kind: "mutation",
    input: () => ({ tokenId: fixture.tokenId, reason: "object matrix", idempotencyKey: `inv-${Math.random()}` }),
    expect: { anonymous: 401, owner: 403, otherUser: 403, issuer: "allow", otherIssuer: 403, admin: "allow" },
  },
  "market.list": {
    kind: "mutation",
    input: () => ({ tokenId: fixture.tokenId, price: "1", currency: "eth", idempotencyKey: `list-${Math.random()}` }),
    expect: { anonymous: 401, owner: "allow", otherUser: 404, issuer: 404, otherIssuer: 404, admin: 404 },
  },
  "market.cancel": {
    kind: "mutation",
    input: () => ({ listingId: fixture.listingId, idempotencyKey: `cancel-${Math.random()}` }),
    expect: { anonymous: 401, owner: "allow", otherUser: 404, issuer: 404, otherIssuer: 404, admin: 404 },
  },
};

let api: TestApi;
const headers: Record<Caller, Record<string, string>> = {
  anonymous: {},
  owner: {},
  otherUser: {},
  issuer: {},
  otherIssuer: {},
  admin: {},
};
const wallets: Partial<Record<Caller, Address>> = {};

beforeAll(async () => {
  api = await createTestApi();
  type Role = "user" | "issuer" | "admin";
  const roles: Record<Exclude<Caller, "anonymous">, Role> = {
    owner: "user",
    otherUser: "user",
    issuer: "issuer",
    otherIssuer: "issuer",
    admin: "admin",
  };
  for (const [caller, role] of Object.entries(roles) as Array<[Exclude<Caller, "anonymous">, Role]>) {
    const registered = await api.mutation("auth.register", {
      username: `object_${caller}`,
      email: `${caller}@objects.example`,
      password: "long enough pw",
    });
    const { user, token } = registered.body.result.data;
    await api.deps.db.update(users).set({ role }).where(eq(users.id, user.id));
    headers[caller] = bearer(token);
    wallets[caller] = user.walletAddress;
  }

  // The owner's certificate, issued on chain (market.list reads its approval there) by the issuer's wallet as the
  // index records it: the operator sends the transaction, the row names the issuer, as the API reads it.
  const operator = createWalletClient({
    chain: foundry,
    transport: http(api.anvil.rpcUrl),
    account: privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY),
  });
  const hash = await operator.writeContract({
    address: api.deployment.contracts.CertificateRegistry.address,
    abi: certificateRegistryAbi,
    functionName: "issue",
    args: [wallets.owner as Address, "bafkreiobjects", 0n],
  });
  const receipt = await api.deps.chain.client.waitForTransactionReceipt({ hash });
  const [issued] = parseEventLogs({ abi: certificateRegistryAbi, logs: receipt.logs, eventName: "CertificateIssued" });
  fixture.tokenId = Number(issued?.args.tokenId);
  const hex = `0x${"cd".repeat(32)}` as const;
  const refs = { blockNumber: Number(receipt.blockNumber), blockHash: hex, logIndex: 0 };
  await api.deps.db.insert(certificates).values({
    tokenId: fixture.tokenId,
    ownerAddress: wallets.owner as Address,
    issuerAddress: wallets.issuer as Address,
    ipfsHash: "bafkreiobjects",
    status: "valid",
    issuedAt: new Date(),
    issueTxHash: hex,
    issuedBlockNumber: refs.blockNumber,
    ...refs,
  });
  await api.deps.db.insert(listings).values({
    listingId: fixture.listingId,
    tokenId: 777_777,
    sellerAddress: wallets.owner as Address,
    currencyAddress: zeroAddress,
    price: 1n,
    status: "active",
    listedAt: new Date(),
    createdTxHash: hex,
    createdBlockNumber: refs.blockNumber,
    createdBlockHash: hex,
    createdLogIndex: 0,
    ...refs,
  });
  // One of the owner's requests, for tx.status: a transfer, which needs a balance to be accepted.
  await api.deps.chain.client.request({
    method: "anvil_setBalance" as never,
    params: [wallets.owner, "0xde0b6b3a7640000"] as never,
  });
  const request = await api.mutation(
    "account.transfer",
    { to: "object_otherUser", currency: "eth", amount: "1", idempotencyKey: "objects-owner-request" },
    headers.owner,
  );
  fixture.requestId = request.body.result.data.requestId;
});
afterAll(() => api.close());

describe("object-level authorization", () => {
  test("behavior: every procedure names its objects or says why it has none", () => {
    const procedures = Object.keys(appRouter._def.procedures).sort();
    const covered = [...Object.keys(objectCases), ...Object.keys(noObjects)].sort();
    expect(covered).toEqual(procedures);
  });

  const cases = Object.entries(objectCases).flatMap(([path, entry]) =>
    callers.map((caller) => [path, caller, entry] as const),
  );
  test.each(cases)("%s on the owner's object as %s", async (path, caller, entry) => {
    const call = entry.kind === "query" ? api.query : api.mutation;
    const result: TrpcResult = await call(path, entry.input(), headers[caller]);
    const expected = entry.expect[caller];
    if (expected === "allow") {
      expect([401, 403, 404], `${path} as ${caller}: ${JSON.stringify(result.body)}`).not.toContain(result.status);
      expect(result.status).toBeLessThan(500);
    } else {
      expect(result.status, `${path} as ${caller}: ${JSON.stringify(result.body)}`).toBe(expected);
      // A refusal carries an error and nothing of the object.
      expect(result.body.result).toBeUndefined();
      expect(JSON.stringify(result.body)).not.toContain(wallets.owner);
    }
  });

  test("behavior: refused mutations queued nothing", async () => {
    const rows = await api.deps.db.select().from(txRequests);
    const senders = new Set(rows.map((row) => row.fromAddress));
    for (const caller of ["otherUser", "otherIssuer"] as const)
      expect(senders.has(wallets[caller] ?? null)).toBe(false);
  });
});
