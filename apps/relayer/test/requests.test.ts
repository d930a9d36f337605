import { transactions, txRequestHashes, txRequests } from "@certchain/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createHttpApp } from "../src/http.ts";
import type { Relayer } from "../src/relayer.ts";
import { createTxRequestStore } from "../src/requests.ts";
import { OPERATOR, type Stack, startStack } from "./fixtures.ts";

let stack: Stack;
let relayer: Relayer;
beforeAll(async () => {
  stack = await startStack();
  relayer = await stack.startRelayer();
});
afterAll(() => stack?.close());

const RECIPIENT = "0x00000000000000000000000000000000000000aa";
const farFuture = String(Math.floor(Date.now() / 1000) + 86_400);

describe("tx requests", () => {
  test("behavior: the same idempotency key twice gives one request and one transaction", async () => {
    const request = {
      idempotencyKey: "pay-once",
      kind: "eth_transfer",
      payload: { to: RECIPIENT, amount: "1000" },
    } as const;
    const [first, second] = await Promise.all([stack.submit(request), stack.submit(request)]);
    expect(second).toBe(first);
    await stack.waitForFinal([first]);
    expect(await stack.submit(request)).toBe(first);
    const rows = await stack.database.db.select().from(txRequests).where(eq(txRequests.idempotencyKey, "pay-once"));
    expect(rows).toHaveLength(1);
    expect(
      await stack.database.db.select().from(txRequestHashes).where(eq(txRequestHashes.txRequestId, first)),
    ).toHaveLength(1);
    expect(await stack.database.db.select().from(transactions).where(eq(transactions.txRequestId, first))).toHaveLength(
      1,
    );
    expect(await stack.client.getBalance({ address: RECIPIENT })).toBe(1000n);
  });

  test("behavior: the same key from two users gives two requests", async () => {
    const alice = await stack.createCustodialUser("alice");
    const shared = { idempotencyKey: "k1", kind: "eth_transfer", payload: { to: RECIPIENT, amount: "1" } } as const;
    const mine = await stack.submit({ ...shared, userId: alice.userId, from: alice.address });
    const platform = await stack.submit(shared);
    expect(mine).not.toBe(platform);
    await stack.waitForFinal([mine, platform]);
  });

  test("error: a request that would revert fails with the decoded reason and sends nothing", async () => {
    const issued = await stack.submit({
      idempotencyKey: "issue-r",
      kind: "issue",
      payload: { to: OPERATOR, cid: "bafy-r", expiresAt: farFuture },
    });
    await stack.waitForFinal([issued]);
    const nonceBefore = await stack.client.getTransactionCount({ address: OPERATOR });
    const bob = await stack.createCustodialUser("bob");

    const notIssuer = await stack.submit({
      userId: bob.userId,
      from: bob.address,
      idempotencyKey: "r1",
      kind: "revoke",
      payload: { tokenId: "1", reason: "x" },
    });
    const unknown = await stack.submit({
      idempotencyKey: "r2",
      kind: "revoke",
      payload: { tokenId: "999", reason: "x" },
    });
    const stale = await stack.submit({
      idempotencyKey: "r3",
      kind: "buy",
      payload: { listingId: "5", expectedPrice: "1", currency: "0x0000000000000000000000000000000000000000" },
    });
    const [a, b, c] = await stack.waitForFinal([notIssuer, unknown, stale]);
    expect(a).toMatchObject({ status: "failed", errorCode: "NotIssuer", nonce: null, txHash: null });
    expect(a?.errorMessage).toContain("would revert: NotIssuer(1, ");
    expect(b).toMatchObject({ status: "failed", errorCode: "UnknownCertificate", nonce: null });
    expect(c).toMatchObject({ status: "failed", errorCode: "ListingNotActive", nonce: null });
    for (const id of [notIssuer, unknown, stale]) {
      expect(await stack.database.db.select().from(txRequestHashes).where(eq(txRequestHashes.txRequestId, id))).toEqual(
        [],
      );
    }
    expect(await stack.client.getTransactionCount({ address: OPERATOR })).toBe(nonceBefore);
    // bob was never funded: the failure came from the simulation, before any money or nonce moved.
    expect(await stack.client.getBalance({ address: bob.address })).toBe(0n);
  });

  test("behavior: status changes are published in order on the status channel", async () => {
    const subscriber = stack.redis.duplicate();
    const seen: string[] = [];
    await subscriber.subscribe(`${stack.redisPrefix}:tx-status`);
    subscriber.on("message", (_channel, message) => seen.push(JSON.parse(message).status));
    const id = await stack.submit({
      idempotencyKey: "watched",
      kind: "eth_transfer",
      payload: { to: RECIPIENT, amount: "5" },
    });
    await stack.waitForFinal([id]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    subscriber.disconnect();
    expect(seen).toEqual(["signed", "sent", "mined", "confirmed"]);
  });

  test("behavior: one wallet's requests take consecutive nonces in submission order", async () => {
    const carol = await stack.createCustodialUser("carol");
    const ids: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      ids.push(
        await stack.submit({
          userId: carol.userId,
          from: carol.address,
          idempotencyKey: `o${i}`,
          kind: "eth_transfer",
          payload: { to: RECIPIENT, amount: String(i + 1) },
        }),
      );
    }
    const rows = await stack.waitForFinal(ids);
    expect(rows.every((row) => row.status === "confirmed")).toBe(true);
    const nonces = rows.map((row) => row.nonce as number);
    expect(nonces).toEqual([...nonces].sort((x, y) => x - y));
    expect(new Set(nonces).size).toBe(30);
    expect((nonces.at(-1) ?? 0) - (nonces[0] ?? 0)).toBe(29);
  });

  test("behavior: /healthz, /readyz and /metrics report the running relayer", async () => {
    const app = createHttpApp({ isReady: relayer.isReady, registry: relayer.metrics.registry });
    expect((await app.request("/healthz")).status).toBe(200);
    expect(await (await app.request("/readyz")).json()).toEqual({ status: "ready" });
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toMatch(/^relayer_confirmations_total [1-9]/m);
    expect(metrics).toMatch(/^relayer_sends_total [1-9]/m);
    expect(metrics).toMatch(/^relayer_failures_total\{reason="NotIssuer"\} 1$/m);
    expect(metrics).toMatch(/^relayer_queue_jobs\{state="waiting"\} \d+$/m);
    const stopped = createHttpApp({ isReady: async () => false, registry: relayer.metrics.registry });
    expect((await stopped.request("/readyz")).status).toBe(503);
  });

  test("behavior: reads of several requests made together each get their own request, and an unknown id none", async () => {
    const ids = await Promise.all(
      [1, 2, 3].map((i) =>
        stack.submit({ idempotencyKey: `read-${i}`, kind: "eth_transfer", payload: { to: RECIPIENT, amount: `${i}` } }),
      ),
    );
    const store = createTxRequestStore({ db: stack.database.db, publish: async () => {} });
    const unknown = "01900000-0000-7000-8000-000000000000";
    const read = await Promise.all([...ids, unknown, ids[0] as string].map((id) => store.load(id)));
    expect(read.map((request) => request?.idempotencyKey)).toEqual(["read-1", "read-2", "read-3", undefined, "read-1"]);
    expect(read.map((request) => request?.id)).toEqual([...ids, undefined, ids[0]]);
    // Nothing is kept between reads: once the relayer has taken them on, a read sees where each request is now.
    await stack.waitForFinal(ids);
    const later = await Promise.all(ids.map((id) => store.load(id)));
    expect(later.map((request) => request?.status)).toEqual(["confirmed", "confirmed", "confirmed"]);
  });
});
