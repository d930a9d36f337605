import { certificates, txRequests, users } from "@certchain/db";
import { TX_REQUESTS_QUEUE } from "@certchain/queue";
import { Queue } from "bullmq";
import { eq } from "drizzle-orm";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestApi, signUp as signUpAs, type TestApi } from "./helpers.ts";

/**
 * The procedures that change the chain only record a request and queue it (the relayer's tests cover what happens
 * next). What a user would check here: who may ask, which wallet will sign, and that one request is queued once.
 */
let api: TestApi;
let redis: Redis;
let queue: Queue;
const session: Record<string, Record<string, string>> = {};
const wallet: Record<string, `0x${string}`> = {};
const id: Record<string, number> = {};

async function signUp(name: string, role: "user" | "issuer" | "admin") {
  const account = await signUpAs(api, name, role);
  session[name] = account.headers;
  wallet[name] = account.wallet;
  id[name] = account.id;
}

beforeAll(async () => {
  api = await createTestApi();
  redis = new Redis(api.deps.config.redisUrl, { maxRetriesPerRequest: null });
  queue = new Queue(TX_REQUESTS_QUEUE, { connection: redis, prefix: api.deps.config.redisPrefix });
  await signUp("uni", "issuer");
  await signUp("college", "issuer");
  await signUp("root", "admin");
  await signUp("alice", "user");
  const hex = `0x${"1".padStart(64, "0")}` as const;
  await api.deps.db.insert(certificates).values({
    tokenId: 1,
    ownerAddress: wallet.alice as `0x${string}`,
    issuerAddress: wallet.uni as `0x${string}`,
    ipfsHash: "bafkreiexample",
    status: "valid",
    issuedAt: new Date(),
    issueTxHash: hex,
    issuedBlockNumber: 1,
    blockNumber: 1,
    blockHash: hex,
    logIndex: 0,
  });
});
afterAll(async () => {
  await queue.close();
  redis.disconnect();
  await api.close();
});

const invalidate = (who: string, key: string) =>
  api.mutation("certificates.invalidate", { tokenId: 1, reason: "issued in error", idempotencyKey: key }, session[who]);

describe("certificates.invalidate", () => {
  test("default: the issuer's request is recorded, signed by the issuer's wallet, and queued once", async () => {
    const result = await invalidate("uni", "revoke-by-issuer");
    expect(result.status).toBe(200);
    const { requestId } = result.body.result.data;
    const [request] = await api.deps.db.select().from(txRequests).where(eq(txRequests.id, requestId));
    expect(request).toMatchObject({ kind: "revoke", status: "queued", fromAddress: wallet.uni, userId: id.uni });
    expect(request?.payload).toEqual({ tokenId: "1", reason: "issued in error" });
    expect((await queue.getJob(requestId))?.data).toEqual({ requestId });
  });

  test("behavior: the same idempotency key returns the same request and queues nothing new", async () => {
    const first = (await invalidate("uni", "revoke-twice")).body.result.data.requestId;
    const second = (await invalidate("uni", "revoke-twice")).body.result.data.requestId;
    expect(second).toBe(first);
    const rows = await api.deps.db.select().from(txRequests).where(eq(txRequests.idempotencyKey, "revoke-twice"));
    expect(rows).toHaveLength(1);
  });

  test("behavior: an admin may invalidate any certificate, signing with the operator wallet", async () => {
    const { requestId } = (await invalidate("root", "revoke-by-admin")).body.result.data;
    const [request] = await api.deps.db.select().from(txRequests).where(eq(txRequests.id, requestId));
    expect(request?.fromAddress).toBe(api.deps.operatorAddress);
  });

  test("error: another issuer and the holder are FORBIDDEN, and nothing is queued", async () => {
    for (const who of ["college", "alice"]) {
      const result = await invalidate(who, `revoke-by-${who}`);
      expect(result.status).toBe(403);
      expect(
        await api.deps.db
          .select()
          .from(txRequests)
          .where(eq(txRequests.idempotencyKey, `revoke-by-${who}`)),
      ).toEqual([]);
    }
  });
});

describe("account.balance", () => {
  test("default: the wallet's ETH and payment-token balances, from the chain", async () => {
    await api.deps.chain.client.request({
      method: "anvil_setBalance" as never,
      params: [wallet.alice, "0xde0b6b3a7640000"] as never,
    });
    const balance = (await api.query("account.balance", undefined, session.alice)).body.result.data;
    expect(balance).toMatchObject({ address: wallet.alice, eth: "1000000000000000000", paymentToken: "0" });
  });
});

describe("tx.status", () => {
  test("default: the owner sees their request's status", async () => {
    const { requestId } = (await invalidate("uni", "status-check")).body.result.data;
    const status = await api.query("tx.status", { requestId }, session.uni);
    expect(status.body.result.data).toMatchObject({ requestId, kind: "revoke", status: "queued", txHash: null });
  });

  test("error: someone else's request is NOT_FOUND, exactly like a missing one", async () => {
    const { requestId } = (await invalidate("uni", "status-private")).body.result.data;
    const foreign = await api.query("tx.status", { requestId }, session.alice);
    const missing = await api.query("tx.status", { requestId: "0190c5b2-7d2e-7000-8000-00000000abcd" }, session.alice);
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
  });
});

describe("admin.grantIssuer / revokeIssuer", () => {
  test("default: the role changes in MySQL and the operator queues the on-chain grant for the user's wallet", async () => {
    const { requestId } = (
      await api.mutation("admin.grantIssuer", { userId: id.alice, idempotencyKey: "grant-alice" }, session.root)
    ).body.result.data;
    const [request] = await api.deps.db.select().from(txRequests).where(eq(txRequests.id, requestId));
    expect(request).toMatchObject({ kind: "grant_issuer", fromAddress: api.deps.operatorAddress });
    expect(request?.payload).toEqual({ account: wallet.alice });
    const [alice] = await api.deps.db
      .select()
      .from(users)
      .where(eq(users.id, id.alice as number));
    expect(alice?.role).toBe("issuer");

    await api.mutation("admin.revokeIssuer", { userId: id.alice, idempotencyKey: "revoke-alice" }, session.root);
    const [after] = await api.deps.db
      .select()
      .from(users)
      .where(eq(users.id, id.alice as number));
    expect(after?.role).toBe("user");
  });

  test("error: unknown users are 404 and admins cannot be demoted here", async () => {
    expect(
      (await api.mutation("admin.grantIssuer", { userId: 999_999, idempotencyKey: "grant-nobody" }, session.root))
        .status,
    ).toBe(404);
    expect(
      (await api.mutation("admin.revokeIssuer", { userId: id.root, idempotencyKey: "demote-root" }, session.root))
        .status,
    ).toBe(409);
  });
});
