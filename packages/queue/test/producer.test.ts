import { randomBytes } from "node:crypto";
import { txRequests, users } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { Queue } from "bullmq";
import { eq, sql } from "drizzle-orm";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { TX_REQUESTS_QUEUE } from "../src/names.ts";
import { createTxRequestProducer, TxRequestDependencyError, type TxRequestProducer } from "../src/producer.ts";
import { assertNoEviction, createRedis } from "../src/redis.ts";

const OPERATOR = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const transfer = (key: string) =>
  ({
    userId: null,
    from: OPERATOR,
    idempotencyKey: key,
    kind: "eth_transfer",
    payload: { to: "0x000000000000000000000000000000000000dead", amount: "1" },
  }) as const;

let database: TestDatabase;
let redis: Redis;
let queue: Queue;
let producer: TxRequestProducer;
const prefix = `test:${process.pid}:${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  database = await createTestDatabase();
  redis = createRedis("redis://127.0.0.1:6379");
  queue = new Queue(TX_REQUESTS_QUEUE, { connection: redis, prefix });
  producer = createTxRequestProducer({ db: database.db, queue });
});
afterAll(async () => {
  await queue?.obliterate({ force: true });
  await queue?.close();
  redis?.disconnect();
  await database?.drop();
});

describe("tx request producer", () => {
  test("default: the row is written and a job with the request id is queued", async () => {
    const { requestId, created } = await producer.submit(transfer("first"));
    expect(created).toBe(true);
    const [row] = await database.db.select().from(txRequests).where(eq(txRequests.id, requestId));
    expect(row).toMatchObject({ status: "queued", kind: "eth_transfer", fromAddress: OPERATOR, nonce: null });
    const job = await queue.getJob(requestId);
    expect(job?.name).toBe("eth_transfer");
    expect(job?.data).toEqual({ requestId });
  });

  test("behavior: the same key returns the same request, concurrently too, and adds no job", async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => producer.submit(transfer("twice"))));
    const ids = new Set(results.map((result) => result.requestId));
    expect(ids.size).toBe(1);
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(await database.db.select().from(txRequests).where(eq(txRequests.idempotencyKey, "twice"))).toHaveLength(1);
  });

  test("behavior: a row whose job was lost is enqueued by the sweeper", async () => {
    const { requestId } = await producer.submit(transfer("lost-job"));
    await (await queue.getJob(requestId))?.remove();
    await database.db
      .update(txRequests)
      .set({ updatedAt: sql`NOW() - INTERVAL 1 MINUTE` })
      .where(eq(txRequests.id, requestId));
    expect(await producer.enqueueOrphans(10_000)).toBeGreaterThanOrEqual(1);
    expect((await queue.getJob(requestId))?.data).toEqual({ requestId });
    expect(await producer.enqueueOrphans(10_000)).toBe(0);
  });

  test("error: an invalid payload writes nothing", async () => {
    await expect(
      producer.submit({ ...transfer("bad"), payload: { to: "nope", amount: "1" } } as never),
    ).rejects.toThrow("to");
    expect(await database.db.select().from(txRequests).where(eq(txRequests.idempotencyKey, "bad"))).toEqual([]);
  });

  test("behavior: dependsOn is stored, and replaying the key returns the same request", async () => {
    const approve = await producer.submit(transfer("approve-first"));
    const list = { ...transfer("list-after"), dependsOn: approve.requestId };
    const first = await producer.submit(list);
    expect(first.created).toBe(true);
    const [row] = await database.db.select().from(txRequests).where(eq(txRequests.id, first.requestId));
    expect(row?.dependsOn).toBe(approve.requestId);
    expect(await producer.submit(list)).toEqual({ requestId: first.requestId, created: false });
  });

  test("error: dependsOn naming no request, or another user's request, is refused and writes nothing", async () => {
    const [user] = await database.db
      .insert(users)
      .values({ username: "dep-owner", email: "dep-owner@example.test", passwordHash: "x" });
    const userId = user.insertId;
    const platformRequest = await producer.submit(transfer("platform-owned"));
    const cases = [
      ["not-an-id", "dependsOn not-an-id is not a request of this user"],
      ["01936f0e-8c4a-7b3e-9f1d-2a6c5e4b3a21", "dependsOn 01936f0e-8c4a-7b3e-9f1d-2a6c5e4b3a21 is not a request"],
      [platformRequest.requestId, `dependsOn ${platformRequest.requestId} is not a request of this user`],
    ] as const;
    for (const [dependsOn, message] of cases) {
      const submitted = producer.submit({ ...transfer(`bad-dep-${dependsOn}`), userId, dependsOn });
      await expect(submitted).rejects.toThrow(TxRequestDependencyError);
      await expect(submitted).rejects.toThrow(message);
    }
    expect(await database.db.select().from(txRequests).where(eq(txRequests.userId, userId))).toEqual([]);
  });

  test("behavior: the machine's Redis passes the eviction-policy check", async () => {
    await expect(assertNoEviction(redis)).resolves.toBeUndefined();
  });
});
