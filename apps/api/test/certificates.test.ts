import { certificates, type NewCertificate } from "@certchain/db";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
const alice = "0x00000000000000000000000000000000000a11ce";
const bob = "0x0000000000000000000000000000000000000b0b";
const university = "0x00000000000000000000000000000000000000e1";
const college = "0x00000000000000000000000000000000000000e2";

/** A row as the indexer would write it for token `tokenId` (these tests cover the API's reads, not indexing). */
function indexedCertificate(tokenId: number, overrides: Partial<NewCertificate> = {}): NewCertificate {
  const hex = tokenId.toString(16).padStart(64, "0");
  return {
    tokenId,
    ownerAddress: alice,
    issuerAddress: university,
    ipfsHash: `bafkreicid${tokenId}`,
    status: "valid",
    issuedAt: new Date("2026-01-01T00:00:00Z"),
    issueTxHash: `0x${hex}`,
    issuedBlockNumber: 4,
    blockNumber: 4,
    blockHash: `0x${hex}`,
    logIndex: 0,
    ...overrides,
  };
}

beforeAll(async () => {
  api = await createTestApi();
  await api.deps.db.insert(certificates).values([
    indexedCertificate(1),
    indexedCertificate(2, { ownerAddress: bob }),
    indexedCertificate(3, {
      issuerAddress: college,
      status: "invalid",
      revokedAt: new Date(),
      revocationReason: "fraud",
    }),
    indexedCertificate(4, { expiresAt: new Date("2026-02-01T00:00:00Z") }),
    ...Array.from({ length: 26 }, (_, i) => indexedCertificate(5 + i, { ownerAddress: bob })),
  ]);
  // Mine ten blocks, so the rows at block 4 sit well below the head.
  await fetch(api.anvil.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "anvil_mine", params: ["0xa"] }),
  });
});
afterAll(() => api.close());

describe("certificates.get", () => {
  test("default: the indexed row with validity and confirmations", async () => {
    const result = await api.query("certificates.get", { tokenId: 1 });
    const head = await api.deps.head.latest();
    expect(result.status).toBe(200);
    expect(result.body.result.data).toMatchObject({
      tokenId: 1,
      owner: alice,
      issuer: university,
      cid: "bafkreicid1",
      tokenUri: "ipfs://bafkreicid1",
      status: "valid",
      valid: true,
      expired: false,
      confirmations: head - 4 + 1,
    });
  });

  test("behavior: a revoked certificate is invalid and says why; an expired one is not valid", async () => {
    const revoked = (await api.query("certificates.get", { tokenId: 3 })).body.result.data;
    expect(revoked).toMatchObject({ status: "invalid", valid: false, revocationReason: "fraud" });
    const expired = (await api.query("certificates.get", { tokenId: 4 })).body.result.data;
    expect(expired).toMatchObject({ status: "valid", valid: false, expired: true });
  });

  test("error: an unknown token is 404, a bad id is 400 naming the field", async () => {
    expect((await api.query("certificates.get", { tokenId: 999 })).status).toBe(404);
    const bad = await api.query("certificates.get", { tokenId: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.data.fieldErrors.fieldErrors.tokenId).toEqual(["must be at least 1"]);
  });
});

describe("certificates.list", () => {
  test("default: newest first, 20 per page, with a cursor that walks every row once", async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = (await api.query("certificates.list", cursor ? { cursor } : {})).body.result.data;
      seen.push(...page.items.map((item: { tokenId: number }) => item.tokenId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i));
  });

  test("behavior: filters by owner (any case), issuer and status", async () => {
    const byOwner = (await api.query("certificates.list", { owner: alice.toUpperCase().replace("0X", "0x") })).body
      .result.data;
    expect(byOwner.items.map((c: { tokenId: number }) => c.tokenId)).toEqual([4, 3, 1]);
    const byIssuer = (await api.query("certificates.list", { issuer: college })).body.result.data;
    expect(byIssuer.items.map((c: { tokenId: number }) => c.tokenId)).toEqual([3]);
    const revoked = (await api.query("certificates.list", { status: "invalid" })).body.result.data;
    expect(revoked.items.map((c: { tokenId: number }) => c.tokenId)).toEqual([3]);
  });

  test.each([
    ["a page larger than the maximum", { limit: 1000 }, "limit"],
    ["a malformed address", { owner: "0x123" }, "owner"],
    ["an unknown filter", { ownerId: 1 }, "Unrecognized key"],
    ["a forged cursor", { cursor: "not-ours" }, "cursor"],
    ["SQL in a filter", { owner: "' OR 1=1 --" }, "owner"],
  ])("error: %s is a 400", async (_case, input, expected) => {
    const result = await api.query("certificates.list", input);
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body.error)).toContain(expected);
  });
});
