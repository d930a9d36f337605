import { listings, type NewListing } from "@certchain/db";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
const ETH = "0x0000000000000000000000000000000000000000";
const token = "0x00000000000000000000000000000000000070c3";
const seller = "0x0000000000000000000000000000000000005e11";

/** A listing row as the indexer writes it (these tests cover reads). Prices repeat, to exercise tie-breaking. */
function indexedListing(listingId: number, overrides: Partial<NewListing> = {}): NewListing {
  const hex = `0x${listingId.toString(16).padStart(64, "0")}` as const;
  return {
    listingId,
    tokenId: listingId,
    sellerAddress: seller,
    currencyAddress: ETH,
    price: BigInt((listingId % 7) + 1) * 10n ** 18n,
    status: "active",
    listedAt: new Date(Date.UTC(2026, 0, listingId)),
    createdTxHash: hex,
    createdBlockNumber: listingId,
    createdBlockHash: hex,
    createdLogIndex: 0,
    blockNumber: listingId,
    blockHash: hex,
    logIndex: 0,
    ...overrides,
  };
}

const rows = [
  ...Array.from({ length: 45 }, (_, i) => indexedListing(i + 1)),
  indexedListing(46, { status: "sold", buyerAddress: "0x00000000000000000000000000000000000000b1", fee: 25n }),
  indexedListing(47, { status: "cancelled" }),
  indexedListing(48, { currencyAddress: token, price: 5n }),
  // Beyond 2^53: prices must survive as exact decimal strings.
  indexedListing(49, { price: 123456789012345678901234567890n }),
];

beforeAll(async () => {
  api = await createTestApi();
  await api.deps.db.insert(listings).values(rows);
});
afterAll(() => api.close());

async function walk(input: Record<string, unknown>): Promise<Array<{ listingId: number; price: string }>> {
  const items = [];
  let cursor: string | undefined;
  do {
    const result = await api.query("market.listings", { ...input, ...(cursor ? { cursor } : {}) });
    expect(result.status).toBe(200);
    items.push(...result.body.result.data.items);
    cursor = result.body.result.data.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

const active = rows.filter((row) => row.status === "active");

describe("market.listings", () => {
  test("default: active listings, newest first, every one exactly once across pages", async () => {
    const items = await walk({ limit: 10 });
    expect(items.map((i) => i.listingId)).toEqual(active.map((r) => r.listingId).sort((a, b) => b - a));
  });

  test.each(["price_asc", "price_desc"] as const)(
    "behavior: sort %s pages through ties without skipping",
    async (sort) => {
      const items = await walk({ sort, limit: 7 });
      const expected = [...active].sort((a, b) => {
        const byPrice = a.price === b.price ? 0 : a.price < b.price ? -1 : 1;
        return (byPrice || a.listingId - b.listingId) * (sort === "price_asc" ? 1 : -1);
      });
      expect(items.map((i) => i.listingId)).toEqual(expected.map((r) => r.listingId));
    },
  );

  test("behavior: prices are exact decimal strings of base units", async () => {
    const [item] = (await api.query("market.listings", { tokenId: 49 })).body.result.data.items;
    expect(item.price).toBe("123456789012345678901234567890");
  });

  test("behavior: filters by status, currency and seller", async () => {
    const sold = (await api.query("market.listings", { status: "sold" })).body.result.data.items;
    expect(sold).toMatchObject([{ listingId: 46, buyer: "0x00000000000000000000000000000000000000b1", fee: "25" }]);
    const inToken = (await api.query("market.listings", { currency: token })).body.result.data.items;
    expect(inToken.map((i: { listingId: number }) => i.listingId)).toEqual([48]);
    const other = (await api.query("market.listings", { seller: "0x0000000000000000000000000000000000000001" })).body;
    expect(other.result.data.items).toEqual([]);
  });

  test("behavior: the REST path answers like the procedure", async () => {
    const response = await api.app.request("/api/market/listings?sort=price_desc&limit=3");
    expect(response.status).toBe(200);
    const body = (await response.json()) as { items: Array<{ listingId: number }> };
    const procedure = (await api.query("market.listings", { sort: "price_desc", limit: 3 })).body.result.data;
    expect(body).toEqual(procedure);
  });

  test.each([
    ["an unknown sort", { sort: "cheapest" }],
    ["an unknown status", { status: "gone" }],
    ["a cursor from another sort", { sort: "price_asc", cursor: Buffer.from("[5]").toString("base64url") }],
    ["a negative token id", { tokenId: -3 }],
  ])("error: %s is a 400", async (_case, input) => {
    expect((await api.query("market.listings", input)).status).toBe(400);
  });
});
