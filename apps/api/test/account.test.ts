import { type NewTransaction, transactions, users } from "@certchain/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bearer, createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
const aliceWallet = "0x00000000000000000000000000000000000a11ce";
const bobWallet = "0x0000000000000000000000000000000000000b0b";
const stranger = "0x0000000000000000000000000000000000000555";
let aliceToken: string;
let bobToken: string;

async function signUp(name: string, wallet: `0x${string}`): Promise<string> {
  const result = await api.mutation("auth.register", {
    username: name,
    email: `${name}@example.org`,
    password: "long enough pw",
  });
  // Registration will create the custodial wallet; until the relayer's key store lands, tests assign one directly.
  await api.deps.db.update(users).set({ walletAddress: wallet }).where(eq(users.username, name));
  return result.body.result.data.token;
}

let seq = 0;
function tx(from: `0x${string}`, to: `0x${string}`, overrides: Partial<NewTransaction> = {}): NewTransaction {
  seq += 1;
  return {
    txHash: `0x${seq.toString(16).padStart(64, "0")}`,
    fromAddress: from,
    toAddress: to,
    amount: 10n ** 18n,
    status: "completed",
    kind: "eth_transfer",
    currencyAddress: "0x0000000000000000000000000000000000000000",
    blockNumber: seq,
    ...overrides,
  };
}

beforeAll(async () => {
  api = await createTestApi();
  aliceToken = await signUp("alice", aliceWallet);
  bobToken = await signUp("bob", bobWallet);
  await api.deps.db
    .insert(transactions)
    .values([
      tx(aliceWallet, bobWallet),
      tx(bobWallet, aliceWallet, { kind: "token_transfer" }),
      tx(stranger, bobWallet),
      tx(aliceWallet, stranger, { status: "pending", blockNumber: null }),
      ...Array.from({ length: 25 }, () => tx(aliceWallet, stranger, { kind: "buy", tokenId: 7 })),
    ]);
});
afterAll(() => api.close());

describe("account.transactions", () => {
  test("default: the caller's transactions in both directions, newest first, across pages", async () => {
    const seen: Array<{ id: number; from: string; to: string }> = [];
    let cursor: string | undefined;
    do {
      const page = await api.query("account.transactions", cursor ? { cursor } : undefined, bearer(aliceToken));
      expect(page.status).toBe(200);
      seen.push(...page.body.result.data.items);
      cursor = page.body.result.data.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(28);
    expect(seen.every((t) => t.from === aliceWallet || t.to === aliceWallet)).toBe(true);
    expect(seen.map((t) => t.id)).toEqual([...seen.map((t) => t.id)].sort((a, b) => b - a));
  });

  test("behavior: filters by kind and status", async () => {
    const pending = await api.query("account.transactions", { status: "pending" }, bearer(aliceToken));
    expect(pending.body.result.data.items).toHaveLength(1);
    const tokens = await api.query("account.transactions", { kind: "token_transfer" }, bearer(aliceToken));
    expect(tokens.body.result.data.items).toMatchObject([
      { from: bobWallet, to: aliceWallet, amount: "1000000000000000000" },
    ]);
  });

  test("behavior: another user sees only their own rows (object-level authorization)", async () => {
    const bob = await api.query("account.transactions", { limit: 100 }, bearer(bobToken));
    const ids = bob.body.result.data.items.map((t: { from: string; to: string }) => [t.from, t.to]);
    expect(ids).toHaveLength(3);
    expect(ids.every((pair: string[]) => pair.includes(bobWallet))).toBe(true);
  });

  test("error: anonymous callers get 401 on the procedure and the REST path", async () => {
    expect((await api.query("account.transactions")).status).toBe(401);
    expect((await api.app.request("/api/account/transactions")).status).toBe(401);
  });
});
