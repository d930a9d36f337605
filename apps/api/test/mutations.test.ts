import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import { certificateRegistryAbi, paymentTokenAbi } from "@certchain/contracts";
import { certificateDocuments, certificates, listings, txRequests } from "@certchain/db";
import { certificateMetadataSchema } from "@certchain/storage";
import { eq, inArray, like } from "drizzle-orm";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  parseEther,
  parseEventLogs,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestApi, signUp as signUpAs, type TestApi, type TrpcResult } from "./helpers.ts";

/**
 * The mutations that put things on chain: what each checks before anything is queued, and exactly which requests it
 * queues (kind, payload, signing wallet, dependencies). The relayer's own tests cover signing and sending; the user
 * journey test runs the whole path with a relayer and an indexer.
 */
let api: TestApi;
const session: Record<string, Record<string, string>> = {};
const wallet: Record<string, Address> = {};
const userId: Record<string, number> = {};
const transport = () => http(api.anvil.rpcUrl);
let operator: ReturnType<typeof createWalletClient>;
let publicClient: ReturnType<typeof createPublicClient>;

async function signUp(name: string, role: "user" | "issuer" | "admin") {
  const account = await signUpAs(api, name, role);
  session[name] = account.headers;
  wallet[name] = account.wallet;
  userId[name] = account.id;
}

beforeAll(async () => {
  api = await createTestApi();
  publicClient = createPublicClient({ chain: foundry, transport: transport(), pollingInterval: 50 });
  operator = createWalletClient({
    chain: foundry,
    transport: transport(),
    account: privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY),
  });
  for (const [name, role] of [
    ["uni", "issuer"],
    ["alice", "user"],
    ["bob", "user"],
  ] as const) {
    await signUp(name, role);
  }
});
afterAll(() => api.close());

async function mined(hash: Hex) {
  return publicClient.waitForTransactionReceipt({ hash });
}

/** Issues a token to `owner` on chain as the operator, and writes the row the indexer would. */
async function ownedToken(owner: Address, status: "valid" | "invalid" = "valid"): Promise<number> {
  const receipt = await mined(
    await operator.writeContract({
      address: api.deployment.contracts.CertificateRegistry.address,
      abi: certificateRegistryAbi,
      functionName: "issue",
      args: [owner, "bafkreimutations", 0n],
      account: operator.account ?? null,
      chain: foundry,
    }),
  );
  const [issued] = parseEventLogs({ abi: certificateRegistryAbi, logs: receipt.logs, eventName: "CertificateIssued" });
  const tokenId = Number(issued?.args.tokenId);
  const hex = `0x${tokenId.toString(16).padStart(64, "0")}` as const;
  await api.deps.db.insert(certificates).values({
    tokenId,
    ownerAddress: owner,
    issuerAddress: operator.account?.address.toLowerCase() as Address,
    ipfsHash: "bafkreimutations",
    status,
    issuedAt: new Date(),
    issueTxHash: hex,
    issuedBlockNumber: Number(receipt.blockNumber),
    blockNumber: Number(receipt.blockNumber),
    blockHash: hex,
    logIndex: 0,
  });
  return tokenId;
}

let nextListingId = 1000;
/** An indexed listing (the chain is not consulted for listings before a purchase is queued). */
async function listing(
  seller: Address,
  price: bigint,
  options: { currency?: Address; status?: "active" | "sold" } = {},
) {
  const listingId = nextListingId++;
  const hex = `0x${listingId.toString(16).padStart(64, "0")}` as const;
  await api.deps.db.insert(listings).values({
    listingId,
    tokenId: 900_000 + listingId,
    sellerAddress: seller,
    currencyAddress: options.currency ?? zeroAddress,
    price,
    status: options.status ?? "active",
    listedAt: new Date(),
    createdTxHash: hex,
    createdBlockNumber: 1,
    createdBlockHash: hex,
    createdLogIndex: 0,
    blockNumber: 1,
    blockHash: hex,
    logIndex: 0,
  });
  return listingId;
}

const setEth = (address: Address, wei: bigint) =>
  publicClient.request({ method: "anvil_setBalance" as never, params: [address, `0x${wei.toString(16)}`] as never });

async function requestRow(requestId: string) {
  const [row] = await api.deps.db.select().from(txRequests).where(eq(txRequests.id, requestId));
  return row;
}

const data = (result: TrpcResult) => result.body.result.data;
const errorOf = (result: TrpcResult) => ({ status: result.status, code: result.body.error?.data?.code });

describe("market.list", () => {
  test("default: an unapproved token queues the approval, then the listing that waits for it", async () => {
    const tokenId = await ownedToken(wallet.alice as Address);
    const result = await api.mutation(
      "market.list",
      { tokenId, price: "1000", currency: "eth", idempotencyKey: "list-unapproved" },
      session.alice,
    );
    expect(result.status).toBe(200);
    const { requestId, dependsOn } = data(result);
    const approve = await requestRow(dependsOn);
    expect(approve).toMatchObject({
      kind: "approve",
      fromAddress: wallet.alice,
      userId: userId.alice,
      idempotencyKey: "list-unapproved:approve",
    });
    expect(approve?.payload).toEqual({ asset: "certificate", tokenId: String(tokenId) });
    const list = await requestRow(requestId);
    expect(list).toMatchObject({ kind: "list", fromAddress: wallet.alice, dependsOn: approve?.id });
    expect(list?.payload).toEqual({ tokenId: String(tokenId), currency: zeroAddress, price: "1000" });
  });

  test("behavior: a token the Marketplace may already move is listed with no approval", async () => {
    const tokenId = await ownedToken(wallet.alice as Address);
    await publicClient.request({ method: "anvil_impersonateAccount" as never, params: [wallet.alice] as never });
    await setEth(wallet.alice as Address, parseEther("1"));
    await mined(
      await createWalletClient({ chain: foundry, transport: transport() }).writeContract({
        account: wallet.alice as Address,
        address: api.deployment.contracts.CertificateRegistry.address,
        abi: certificateRegistryAbi,
        functionName: "approve",
        args: [api.deployment.contracts.Marketplace.address, BigInt(tokenId)],
      }),
    );
    const result = await api.mutation(
      "market.list",
      { tokenId, price: "5", currency: "token", idempotencyKey: "list-approved" },
      session.alice,
    );
    expect(data(result).dependsOn).toBeNull();
    const list = await requestRow(data(result).requestId);
    expect(list?.dependsOn).toBeNull();
    expect(list?.payload).toMatchObject({ currency: api.deployment.contracts.PaymentToken.address.toLowerCase() });
  });

  test("behavior: retrying with the same key returns the same requests and queues nothing new", async () => {
    const tokenId = await ownedToken(wallet.alice as Address);
    const input = { tokenId, price: "7", currency: "eth", idempotencyKey: "list-retry" };
    const first = data(await api.mutation("market.list", input, session.alice));
    const second = data(await api.mutation("market.list", input, session.alice));
    expect(second).toEqual(first);
    const rows = await api.deps.db.select().from(txRequests).where(like(txRequests.idempotencyKey, "list-retry%"));
    expect(rows).toHaveLength(2);
  });

  test("behavior: the Idempotency-Key header stands in for the input field", async () => {
    const tokenId = await ownedToken(wallet.alice as Address);
    const headers = { ...session.alice, "idempotency-key": "list-by-header" };
    const result = await api.mutation("market.list", { tokenId, price: "9", currency: "eth" }, headers);
    expect(result.status).toBe(200);
    expect((await requestRow(data(result).requestId))?.idempotencyKey).toBe("list-by-header");
  });

  test("error: no idempotency key at all is a 400 naming both ways to give one", async () => {
    const tokenId = await ownedToken(wallet.alice as Address);
    const result = await api.mutation("market.list", { tokenId, price: "9", currency: "eth" }, session.alice);
    expect(errorOf(result)).toEqual({ status: 400, code: "BAD_REQUEST" });
    expect(result.body.error.message).toMatch(/idempotencyKey.*Idempotency-Key header/);
  });

  test("error: someone else's token is not found, a revoked one or one already listed conflicts", async () => {
    const bobs = await ownedToken(wallet.bob as Address);
    const revoked = await ownedToken(wallet.alice as Address, "invalid");
    const listed = await ownedToken(wallet.alice as Address);
    const hex = `0x${"ab".repeat(32)}` as const;
    await api.deps.db.insert(listings).values({
      listingId: 1,
      tokenId: listed,
      sellerAddress: wallet.alice as Address,
      currencyAddress: zeroAddress,
      price: 1n,
      status: "active",
      listedAt: new Date(),
      createdTxHash: hex,
      createdBlockNumber: 1,
      createdBlockHash: hex,
      createdLogIndex: 0,
      blockNumber: 1,
      blockHash: hex,
      logIndex: 0,
    });
    const list = (tokenId: number, key: string) =>
      api.mutation("market.list", { tokenId, price: "1", currency: "eth", idempotencyKey: key }, session.alice);
    expect(errorOf(await list(bobs, "list-bobs"))).toEqual({ status: 404, code: "NOT_FOUND" });
    expect(errorOf(await list(revoked, "list-revoked"))).toEqual({ status: 409, code: "CONFLICT" });
    const already = await list(listed, "list-listed");
    expect(errorOf(already)).toEqual({ status: 409, code: "CONFLICT" });
    expect(already.body.error.message).toMatch(/already listed \(listing 1\)/);
    const refused = ["list-bobs", "list-revoked", "list-listed"];
    const queued = await api.deps.db.select().from(txRequests).where(inArray(txRequests.idempotencyKey, refused));
    expect(queued).toEqual([]);
  });
});

describe("market.buy", () => {
  test("default: an ETH listing at the seen price is bought from the buyer's wallet", async () => {
    const listingId = await listing(wallet.bob as Address, parseEther("0.5"));
    await setEth(wallet.alice as Address, parseEther("2"));
    const result = await api.mutation(
      "market.buy",
      { listingId, expectedPrice: parseEther("0.5").toString(), idempotencyKey: "buy-ether" },
      session.alice,
    );
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    expect(data(result).dependsOn).toBeNull();
    const row = await requestRow(data(result).requestId);
    expect(row).toMatchObject({ kind: "buy", fromAddress: wallet.alice });
    expect(row?.payload).toEqual({
      listingId: String(listingId),
      expectedPrice: parseEther("0.5").toString(),
      currency: zeroAddress,
    });
  });

  test("behavior: a token listing with too small an allowance queues the allowance first", async () => {
    const token = api.deployment.contracts.PaymentToken.address;
    const listingId = await listing(wallet.bob as Address, 300n, { currency: token.toLowerCase() as Address });
    await mined(
      await operator.writeContract({
        address: token,
        abi: paymentTokenAbi,
        functionName: "mint",
        args: [wallet.alice as Address, 1000n],
        account: operator.account ?? null,
        chain: foundry,
      }),
    );
    const result = await api.mutation(
      "market.buy",
      { listingId, expectedPrice: "300", idempotencyKey: "buy-token" },
      session.alice,
    );
    expect(result.status).toBe(200);
    const approve = await requestRow(data(result).dependsOn);
    expect(approve?.payload).toEqual({ asset: "payment_token", amount: "300" });
    expect((await requestRow(data(result).requestId))?.dependsOn).toBe(approve?.id);
  });

  test("error: a changed price, one's own listing, a closed or missing listing, or too little money", async () => {
    const open = await listing(wallet.bob as Address, 100n);
    const own = await listing(wallet.alice as Address, 100n);
    const sold = await listing(wallet.bob as Address, 100n, { status: "sold" });
    const pricey = await listing(wallet.bob as Address, parseEther("1000"));
    const buy = (listingId: number, expectedPrice: string, key: string) =>
      api.mutation("market.buy", { listingId, expectedPrice, idempotencyKey: key }, session.alice);
    const changed = await buy(open, "99", "buy-changed");
    expect(errorOf(changed)).toEqual({ status: 409, code: "CONFLICT" });
    expect(changed.body.error.message).toMatch(/price is now 100/);
    expect(errorOf(await buy(own, "100", "buy-own-listing"))).toEqual({ status: 409, code: "CONFLICT" });
    expect(errorOf(await buy(sold, "100", "buy-sold"))).toEqual({ status: 409, code: "CONFLICT" });
    expect(errorOf(await buy(424_242, "100", "buy-missing"))).toEqual({ status: 404, code: "NOT_FOUND" });
    const poor = await buy(pricey, parseEther("1000").toString(), "buy-poor");
    expect(errorOf(poor)).toEqual({ status: 412, code: "PRECONDITION_FAILED" });
    const queued = await api.deps.db.select().from(txRequests).where(like(txRequests.idempotencyKey, "buy-%"));
    expect(queued.map((row) => row.idempotencyKey).sort()).toEqual(["buy-ether", "buy-token", "buy-token:approve"]);
  });
});

describe("market.cancel", () => {
  test("default: the seller's active listing is withdrawn from the seller's wallet", async () => {
    const listingId = await listing(wallet.alice as Address, 5n);
    const result = await api.mutation("market.cancel", { listingId, idempotencyKey: "cancel-own" }, session.alice);
    const row = await requestRow(data(result).requestId);
    expect(row).toMatchObject({ kind: "cancel", fromAddress: wallet.alice });
    expect(row?.payload).toEqual({ listingId: String(listingId) });
  });

  test("error: another seller's listing is not found; a sold one conflicts", async () => {
    const bobs = await listing(wallet.bob as Address, 5n);
    const sold = await listing(wallet.alice as Address, 5n, { status: "sold" });
    const cancel = (listingId: number, key: string) =>
      api.mutation("market.cancel", { listingId, idempotencyKey: key }, session.alice);
    expect(errorOf(await cancel(bobs, "cancel-bobs"))).toEqual({ status: 404, code: "NOT_FOUND" });
    expect(errorOf(await cancel(sold, "cancel-sold"))).toEqual({ status: 409, code: "CONFLICT" });
  });
});

describe("market.withdraw", () => {
  test("error: nothing earned, nothing to withdraw (412), and nothing is queued", async () => {
    const result = await api.mutation(
      "market.withdraw",
      { currency: "eth", idempotencyKey: "withdraw-nothing" },
      session.bob,
    );
    expect(errorOf(result)).toEqual({ status: 412, code: "PRECONDITION_FAILED" });
    expect(result.body.error.message).toMatch(/no eth proceeds/);
    expect(
      await api.deps.db.select().from(txRequests).where(eq(txRequests.idempotencyKey, "withdraw-nothing")),
    ).toEqual([]);
  });
});

describe("account.transfer", () => {
  test("default: ETH to a username goes to that user's wallet", async () => {
    await setEth(wallet.alice as Address, parseEther("3"));
    const result = await api.mutation(
      "account.transfer",
      { to: "bob", currency: "eth", amount: parseEther("1").toString(), idempotencyKey: "send-bob" },
      session.alice,
    );
    const row = await requestRow(data(result).requestId);
    expect(row).toMatchObject({ kind: "eth_transfer", fromAddress: wallet.alice });
    expect(row?.payload).toEqual({ to: wallet.bob, amount: parseEther("1").toString() });
  });

  test("behavior: tokens to a checksummed address are sent to its lowercase form", async () => {
    const to = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    await mined(
      await operator.writeContract({
        address: api.deployment.contracts.PaymentToken.address,
        abi: paymentTokenAbi,
        functionName: "mint",
        args: [wallet.bob as Address, 50n],
        account: operator.account ?? null,
        chain: foundry,
      }),
    );
    const result = await api.mutation(
      "account.transfer",
      { to, currency: "token", amount: "50", idempotencyKey: "send-address" },
      session.bob,
    );
    const row = await requestRow(data(result).requestId);
    expect(row).toMatchObject({ kind: "token_transfer", fromAddress: wallet.bob });
    expect(row?.payload).toEqual({ to: to.toLowerCase(), amount: "50" });
  });

  test("error: an unknown user, oneself, more than the balance, or a malformed recipient is refused", async () => {
    const send = (to: string, amount: string, key: string) =>
      api.mutation("account.transfer", { to, currency: "eth", amount, idempotencyKey: key }, session.alice);
    expect(errorOf(await send("nobody_here", "1", "send-nobody"))).toEqual({ status: 404, code: "NOT_FOUND" });
    expect(errorOf(await send("alice", "1", "send-self"))).toEqual({ status: 400, code: "BAD_REQUEST" });
    const tooMuch = await send("bob", parseEther("1000000").toString(), "send-too-much");
    expect(errorOf(tooMuch)).toEqual({ status: 412, code: "PRECONDITION_FAILED" });
    expect(tooMuch.body.error.message).toMatch(/Insufficient balance/);
    expect(errorOf(await send("0x123", "1", "send-malformed"))).toEqual({ status: 400, code: "BAD_REQUEST" });
    expect(errorOf(await send("bob", "-1", "send-negative"))).toEqual({ status: 400, code: "BAD_REQUEST" });
    const decimal = await send("bob", "0.5", "send-decimal");
    expect(decimal.body.error.message).toBe(
      "amount: must be a whole number of base units (wei) written as a decimal string",
    );
    const queued = await api.deps.db.select().from(txRequests).where(like(txRequests.idempotencyKey, "send-%"));
    expect(queued.map((row) => row.idempotencyKey).sort()).toEqual(["send-address", "send-bob"]);
  });
});

describe("certificates.create", () => {
  const pdf = () =>
    new File([`%PDF-1.7\n% diploma ${Math.random()}\n%%EOF\n`], "diploma.pdf", { type: "application/pdf" });

  function form(fields: Record<string, string | File>): FormData {
    const body = new FormData();
    for (const [name, value] of Object.entries(fields)) body.append(name, value);
    return body;
  }

  async function postForm(path: string, body: FormData, headers: Record<string, string>): Promise<TrpcResult> {
    const response = await api.app.request(path, { method: "POST", body, headers });
    return { status: response.status, body: await response.json(), headers: response.headers };
  }

  async function metadataAt(cid: string) {
    const response = await api.app.request(`/ipfs/${cid}`);
    return certificateMetadataSchema.parse(await response.json());
  }

  test("default: a multipart upload stores the document and metadata, and queues the issue to the user", async () => {
    const document = pdf();
    const result = await postForm(
      "/trpc/certificates.create",
      form({
        recipientUserId: String(userId.alice),
        name: "BSc Computer Science",
        description: "First-class honours",
        expiresAt: "2099-06-30T00:00:00Z",
        document,
        idempotencyKey: "create-multipart",
      }),
      session.uni as Record<string, string>,
    );
    expect(result.status).toBe(200);
    const { requestId, metadataCid, documentCid } = data(result);
    const row = await requestRow(requestId);
    expect(row).toMatchObject({ kind: "issue", fromAddress: wallet.uni, userId: userId.uni });
    expect(row?.payload).toEqual({
      to: wallet.alice,
      cid: metadataCid,
      expiresAt: String(Date.parse("2099-06-30T00:00:00Z") / 1000),
    });
    const metadata = await metadataAt(metadataCid);
    expect(metadata).toMatchObject({
      name: "BSc Computer Science",
      issuer: { address: wallet.uni, name: "uni" },
      recipient: { name: "alice", address: wallet.alice },
      expires_at: "2099-06-30T00:00:00Z",
      document: `ipfs://${documentCid}`,
      document_content_type: "application/pdf",
    });
    const stored = await api.app.request(`/ipfs/${documentCid}`);
    expect(new Uint8Array(await stored.arrayBuffer())).toEqual(new Uint8Array(await document.arrayBuffer()));
    const [link] = await api.deps.db
      .select()
      .from(certificateDocuments)
      .where(eq(certificateDocuments.metadataCid, metadataCid));
    expect(link).toMatchObject({ documentCid, documentSha256: metadata.document_sha256 });
  });

  test("behavior: the REST path takes the same multipart body; JSON can name a stored document instead", async () => {
    const viaRest = await postForm(
      "/api/certificates/create",
      form({
        recipient: wallet.bob as string,
        recipientName: "Bob Example",
        name: "Licence",
        document: pdf(),
        idempotencyKey: "create-rest",
      }),
      session.uni as Record<string, string>,
    );
    expect(viaRest.status).toBe(200);
    const { documentCid } = viaRest.body;
    const reissued = await api.mutation(
      "certificates.create",
      { recipient: wallet.alice, recipientName: "Alice", name: "Licence", documentCid, idempotencyKey: "create-json" },
      session.uni,
    );
    expect(reissued.status).toBe(200);
    expect(data(reissued).documentCid).toBe(documentCid);
    expect(data(reissued).metadataCid).not.toBe(viaRest.body.metadataCid);
  });

  test("behavior: a retry with the same key answers with the first request and its metadata", async () => {
    const input = { recipientUserId: userId.bob, name: "Retry", idempotencyKey: "create-retry" };
    const first = await postForm(
      "/trpc/certificates.create",
      form({ ...input, recipientUserId: String(input.recipientUserId), document: pdf() }),
      session.uni as Record<string, string>,
    );
    const second = await postForm(
      "/trpc/certificates.create",
      form({ ...input, recipientUserId: String(input.recipientUserId), document: pdf() }),
      session.uni as Record<string, string>,
    );
    expect(data(second)).toEqual(data(first));
  });

  test("error: an HTML page is 415, a missing document or recipient is 400, an unknown stored CID is 404", async () => {
    const html = new File(["<!doctype html><script>alert(1)</script>"], "x.pdf", { type: "application/pdf" });
    const page = await postForm(
      "/trpc/certificates.create",
      form({
        recipient: wallet.bob as string,
        recipientName: "B",
        name: "X",
        document: html,
        idempotencyKey: "create-html",
      }),
      session.uni as Record<string, string>,
    );
    expect(errorOf(page), JSON.stringify(page.body)).toEqual({ status: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
    const noDocument = await api.mutation(
      "certificates.create",
      { recipient: wallet.bob, recipientName: "B", name: "X", idempotencyKey: "create-nodoc" },
      session.uni,
    );
    expect(errorOf(noDocument)).toEqual({ status: 400, code: "BAD_REQUEST" });
    expect(JSON.stringify(noDocument.body.error.data.fieldErrors)).toMatch(/exactly one of document/);
    const noName = await api.mutation(
      "certificates.create",
      { recipient: wallet.bob, name: "X", documentCid: "bafkqaaa", idempotencyKey: "create-noname" },
      session.uni,
    );
    expect(JSON.stringify(noName.body.error.data.fieldErrors)).toMatch(/recipientName/);
    const unknown = await api.mutation(
      "certificates.create",
      {
        recipient: wallet.bob,
        recipientName: "B",
        name: "X",
        documentCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
        idempotencyKey: "create-unknown",
      },
      session.uni,
    );
    expect(errorOf(unknown)).toEqual({ status: 404, code: "NOT_FOUND" });
    const refused = ["create-html", "create-nodoc", "create-noname", "create-unknown"];
    const queued = await api.deps.db.select().from(txRequests).where(inArray(txRequests.idempotencyKey, refused));
    expect(queued).toEqual([]);
  });
});
