import type { AddressInfo } from "node:net";
import { type CertchainClient, createClient } from "@certchain/client";
import { createLogger } from "@certchain/common";
import { newTxRequestId, type TxRequestStatus, txRequests, users } from "@certchain/db";
import { createRedis, type TxStatusEvent, txStatusChannel } from "@certchain/queue";
import { connectChain, createRelayer } from "@certchain/relayer";
import { type ServerType, serve } from "@hono/node-server";
import { TRPCClientError } from "@trpc/client";
import { eq } from "drizzle-orm";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AppRouter } from "../src/root.ts";
import type { TxStatusUpdate } from "../src/routers/tx.ts";
import { createTestApi, type TestApi } from "./helpers.ts";

/**
 * `tx.onStatus` over real HTTP and SSE, through the typed client. The relayer's messages are mostly simulated the way
 * the relayer sends them (row updated, then the event published on the real Redis channel); one test runs a real
 * relayer in-process and follows a transaction to `confirmed`.
 */
let api: TestApi;
let server: ServerType;
let url: string;
let publisher: Redis;
type Person = "owner" | "stranger" | "root";
const client = {} as Record<Person, CertchainClient>;
const userId = {} as Record<Person, number>;

beforeAll(async () => {
  api = await createTestApi();
  server = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  publisher = new Redis(api.deps.config.redisUrl);
  for (const name of ["owner", "stranger", "root"] as const) {
    const { token, user } = await createClient({ url }).auth.register.mutate({
      username: name,
      email: `${name}@example.org`,
      password: "long enough pw",
    });
    client[name] = createClient({ url, token });
    userId[name] = user.id;
  }
  await api.deps.db.update(users).set({ role: "admin" }).where(eq(users.username, "root"));
});

afterAll(async () => {
  // Streams still open would hold `server.close` until they end.
  if ("closeAllConnections" in server) server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  publisher.disconnect();
  await api.close();
});

/** A request of `owner`'s, as the API would have recorded it (no job: no relayer runs for these). */
async function recordRequest(owner: Person): Promise<string> {
  const id = newTxRequestId();
  await api.deps.db.insert(txRequests).values({
    id,
    userId: userId[owner],
    idempotencyKey: `stream-${id}`,
    kind: "noop",
    payload: {},
    fromAddress: api.deps.operatorAddress,
  });
  return id;
}

let hashCounter = 0;
const txHash = () => `0x${(++hashCounter).toString(16).padStart(64, "0")}` as `0x${string}`;

/** What the relayer does at a status change: write the row, then publish. */
async function relayerSets(requestId: string, status: TxRequestStatus, extra: Partial<TxStatusEvent> = {}) {
  const event: TxStatusEvent = { requestId, status, txHash: null, errorCode: null, ...extra };
  await api.deps.db
    .update(txRequests)
    .set({ status, txHash: event.txHash, errorCode: event.errorCode })
    .where(eq(txRequests.id, requestId));
  await publisher.publish(txStatusChannel(api.deps.config.redisPrefix), JSON.stringify(event));
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Follows a request through the typed client, collecting what arrives. */
function follow(as: Person, requestId: string) {
  const updates: TxStatusUpdate[] = [];
  let error: TRPCClientError<AppRouter> | undefined;
  let completed = false;
  const subscription = client[as].tx.onStatus.subscribe(
    { requestId },
    {
      onData: (update) => updates.push(update),
      onError: (e) => {
        error = e as TRPCClientError<AppRouter>;
      },
      onComplete: () => {
        completed = true;
      },
    },
  );
  const stream = {
    updates,
    statuses: () => updates.map((u) => u.status),
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
    unsubscribe: () => subscription.unsubscribe(),
    /** Waits for the `count`-th update. */
    received: (count: number) => waitUntil(() => updates.length >= count, `${count} updates arrived`),
    /** Waits for the stream to end (a final status) or fail. */
    ended: () => waitUntil(() => completed || error !== undefined, "the stream ended"),
  };
  return stream;
}

/** Streams open on the server: each holds a listener on the shared feed until its generator's `finally` runs. */
const openListeners = () => api.deps.txStatus.listenerCount;

describe("tx.onStatus", () => {
  test("behavior: a real relayer's updates arrive in order, through to confirmed", async () => {
    const relayerRedis = createRedis(api.deps.config.redisUrl);
    const relayer = createRelayer({
      config: { ...api.deps.config, finalityDepth: 1, relayerPollMs: 100, relayerJobLockMs: 2000 },
      logger: createLogger({ logLevel: "silent" }, "relayer"),
      db: api.deps.db,
      redis: relayerRedis,
      chain: await connectChain(api.anvil.rpcUrl, api.deps.config.chainId),
      deployment: api.deployment,
    });
    try {
      const { requestId } = await client.root.admin.grantIssuer.mutate({
        userId: userId.owner,
        idempotencyKey: "stream-grant",
      });
      const stream = follow("root", requestId);
      await stream.received(1);
      await relayer.start();
      await stream.ended();
      expect(stream.error).toBeUndefined();
      expect(stream.statuses()).toEqual(["queued", "signed", "sent", "mined", "confirmed"]);
      expect(stream.updates.at(-1)?.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    } finally {
      await relayer.close();
      relayerRedis.disconnect();
    }
  });

  test("default: the current status first, then every change, ending after a final status", async () => {
    const requestId = await recordRequest("owner");
    const stream = follow("owner", requestId);
    await stream.received(1);
    expect(stream.updates[0]).toEqual({ requestId, status: "queued", txHash: null, errorCode: null });

    const hash = txHash();
    await relayerSets(requestId, "signed", { txHash: hash });
    await relayerSets(requestId, "sent", { txHash: hash });
    await stream.received(3);
    await relayerSets(requestId, "failed", { txHash: hash, errorCode: "NotIssuer" });
    await stream.ended();
    expect(stream.completed).toBe(true);
    expect(stream.updates).toEqual([
      { requestId, status: "queued", txHash: null, errorCode: null },
      { requestId, status: "signed", txHash: hash, errorCode: null },
      { requestId, status: "sent", txHash: hash, errorCode: null },
      { requestId, status: "failed", txHash: hash, errorCode: "NotIssuer" },
    ]);
    await waitUntil(() => openListeners() === 0, "the server released the stream");
  });

  test("behavior: other requests' events and repeats of the current status are not sent", async () => {
    const [mine, theirs] = [await recordRequest("owner"), await recordRequest("stranger")];
    const stream = follow("owner", mine);
    await stream.received(1);
    await relayerSets(theirs, "signed", { txHash: txHash() });
    await relayerSets(mine, "queued");
    const hash = txHash();
    await relayerSets(mine, "signed", { txHash: hash });
    await relayerSets(mine, "signed", { txHash: hash });
    await relayerSets(mine, "confirmed", { txHash: hash });
    await stream.ended();
    expect(stream.statuses()).toEqual(["queued", "signed", "confirmed"]);
  });

  test("behavior: a request that is already final is reported once, and the stream ends", async () => {
    const requestId = await recordRequest("owner");
    await relayerSets(requestId, "cancelled");
    const stream = follow("owner", requestId);
    await stream.ended();
    expect(stream.completed).toBe(true);
    expect(stream.statuses()).toEqual(["cancelled"]);
  });

  test("behavior: leaving (unsubscribe) ends the server's stream at once, without waiting for an event", async () => {
    const requestId = await recordRequest("owner");
    const stream = follow("owner", requestId);
    await stream.received(1);
    expect(openListeners()).toBe(1);
    stream.unsubscribe();
    await waitUntil(() => openListeners() === 0, "the server released the stream", 3000);
    await relayerSets(requestId, "confirmed", { txHash: txHash() });
  });

  test("behavior: one Redis subscriber serves every open stream", async () => {
    const requestIds = await Promise.all([1, 2, 3, 4, 5].map(() => recordRequest("owner")));
    const streams = requestIds.map((id) => follow("owner", id));
    await Promise.all(streams.map((s) => s.received(1)));
    const channel = txStatusChannel(api.deps.config.redisPrefix);
    const [, subscribers] = (await publisher.pubsub("NUMSUB", channel)) as [string, number];
    expect(subscribers).toBe(1);
    for (const id of requestIds) await relayerSets(id, "confirmed", { txHash: txHash() });
    await Promise.all(streams.map((s) => s.ended()));
    expect(streams.map((s) => s.statuses())).toEqual(requestIds.map(() => ["queued", "confirmed"]));
  });

  test("error: someone else's request is NOT_FOUND, exactly like a missing one", async () => {
    const requestId = await recordRequest("owner");
    const foreign = follow("stranger", requestId);
    const missing = follow("stranger", newTxRequestId());
    await Promise.all([foreign.ended(), missing.ended()]);
    for (const stream of [foreign, missing]) {
      expect(stream.updates).toEqual([]);
      expect(stream.error).toBeInstanceOf(TRPCClientError);
      expect(stream.error?.data?.code).toBe("NOT_FOUND");
    }
    await waitUntil(() => openListeners() === 0, "the server released both streams");
  });

  test("error: an anonymous caller is UNAUTHORIZED", async () => {
    const requestId = await recordRequest("owner");
    const anonymous = createClient({ url });
    const error = await new Promise<unknown>((resolve) => {
      anonymous.tx.onStatus.subscribe({ requestId }, { onData: resolve, onError: resolve });
    });
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe("UNAUTHORIZED");
  });
});
