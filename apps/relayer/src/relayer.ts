import type { Config, Logger } from "@certchain/common";
import type { Deployment } from "@certchain/contracts";
import { type Db, txRequests, walletNonces } from "@certchain/db";
import {
  createTxRequestProducer,
  TX_REQUEST_JOB_OPTIONS,
  TX_REQUESTS_QUEUE,
  type TxRequestJobData,
  type TxStatusEvent,
  txStatusChannel,
} from "@certchain/queue";
import { DelayedError, Queue, Worker } from "bullmq";
import { and, eq, inArray } from "drizzle-orm";
import type { Redis } from "ioredis";
import type { Address } from "viem";
import { createBlockRecords } from "./block-records.ts";
import type { RelayerChain } from "./chain.ts";
import type { RelayerDeps } from "./deps.ts";
import { createBlockFollower } from "./follower.ts";
import { createLeases } from "./leases.ts";
import { createRelayerMetrics, type RelayerMetrics } from "./metrics.ts";
import { createNonceReservations } from "./nonces.ts";
import { createTxPipeline, type StepOutcome } from "./pipeline.ts";
import { createTxRequestBatches, type PublishStatus } from "./request-batches.ts";
import { createTxRequestStore } from "./requests.ts";
import { createSigners } from "./signers.ts";
import { createWalletSync } from "./wallet-sync.ts";

/** A live request whose row has not changed for this long and has no job gets one (see `enqueueOrphans`). */
const ORPHAN_AGE_MS = 10_000;
/** Processing failures after which a request that never reserved a nonce is given up. */
const MAX_ATTEMPTS_WITHOUT_NONCE = 30;
/** Statuses after which a dependent request can move on (mined) or must fail (the rest): its job is woken at once. */
const WAKES_DEPENDENTS: readonly TxStatusEvent["status"][] = ["mined", "failed", "cancelled", "replaced"];

export type RelayerOptions = {
  config: RelayerDeps["config"] & Pick<Config, "redisPrefix" | "operatorPrivateKey" | "masterKeys">;
  logger: Logger;
  db: Db;
  /** BullMQ's connection (`maxRetriesPerRequest: null`); also used to publish status changes. */
  redis: Redis;
  chain: RelayerChain;
  deployment: Deployment;
  /** The transaction log (the `tx` channel): one line per status change, with its hash and failure code. */
  txLogger?: Logger;
};

export type Relayer = {
  metrics: RelayerMetrics;
  queue: Queue<TxRequestJobData>;
  /** Re-aligns every known wallet with the chain, then starts the workers and the orphan sweeper. */
  start(): Promise<void>;
  /** True while the worker runs and Redis, MySQL and the node answer. */
  isReady(): Promise<boolean>;
  /** Stops taking jobs and waits for the steps in flight to finish. */
  close(): Promise<void>;
};

export function createRelayer(options: RelayerOptions): Relayer {
  const { config, logger, db, redis, chain, deployment } = options;
  const prefix = config.redisPrefix;
  const queue = new Queue<TxRequestJobData>(TX_REQUESTS_QUEUE, { connection: redis, prefix });
  const producer = createTxRequestProducer({ db, queue });
  const metrics = createRelayerMetrics(queue);
  const channel = txStatusChannel(prefix);

  /** Wakes the delayed jobs of requests waiting on these, so they go (or fail) now rather than at their next poll. */
  const wakeDependents = async (requestIds: string[]) => {
    const dependents = await db
      .select({ id: txRequests.id })
      .from(txRequests)
      .where(and(inArray(txRequests.dependsOn, requestIds), eq(txRequests.status, "queued")));
    for (const { id } of dependents) {
      const job = await queue.getJob(id);
      // Another worker may be running it, or it may be waiting already: then there is nothing to wake.
      if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
    }
  };
  const publish: PublishStatus = async (events) => {
    if (events.length === 0) return;
    const pipeline = redis.pipeline();
    for (const event of events) pipeline.publish(channel, JSON.stringify(event));
    await pipeline.exec();
    for (const event of events) options.txLogger?.info(event, "tx request status");
    const settled = events.filter((event) => WAKES_DEPENDENTS.includes(event.status));
    if (settled.length > 0) await wakeDependents(settled.map((event) => event.requestId));
  };

  const deps: RelayerDeps = {
    config,
    logger,
    db,
    chain,
    deployment,
    signers: createSigners({
      db,
      operatorPrivateKey: config.operatorPrivateKey,
      masterKeys: config.masterKeys,
    }),
    store: createTxRequestStore({ db, publish }),
    batches: createTxRequestBatches({ db, publish }),
    blocks: createBlockRecords({ db, publish }),
    nonces: createNonceReservations(db),
    leases: createLeases(redis, prefix),
    producer,
    metrics,
    enqueue: async (requests) => {
      await queue.addBulk(
        requests.map(({ requestId, kind }) => ({
          name: kind,
          data: { requestId },
          opts: { ...TX_REQUEST_JOB_OPTIONS, jobId: requestId },
        })),
      );
    },
  };
  const syncWallet = createWalletSync(deps);
  const follower = createBlockFollower(deps, redis, prefix, syncWallet);
  const pipeline = createTxPipeline(deps, syncWallet);

  const worker = new Worker<TxRequestJobData>(
    TX_REQUESTS_QUEUE,
    async (job, token) => {
      const { requestId } = job.data;
      let outcome: StepOutcome;
      try {
        outcome = await pipeline.advance(requestId);
      } catch (error) {
        const attempts = await deps.store.countAttempt(requestId);
        logger.warn({ requestId, attempts, err: describe(error) }, "Failed a relayer step; will retry");
        if (attempts >= MAX_ATTEMPTS_WITHOUT_NONCE) {
          const request = await deps.store.load(requestId);
          if (request && (await deps.store.failUnsent(request, "relayer_error", describe(error)))) {
            metrics.failures.inc({ reason: "relayer_error" });
            return;
          }
        }
        throw error;
      }
      if (outcome.done) return;
      // The job is the request's timer: park it and let any worker pick it up again, without holding a slot.
      await job.moveToDelayed(Date.now() + outcome.waitMs, token);
      throw new DelayedError();
    },
    {
      connection: redis,
      prefix,
      autorun: false,
      concurrency: config.relayerConcurrency,
      lockDuration: config.relayerJobLockMs,
      stalledInterval: config.relayerJobLockMs,
      // Every step is idempotent, so a job whose process died is simply resumed, however often that happens.
      maxStalledCount: 1_000_000,
    },
  );
  worker.on("error", (error) => logger.error({ err: describe(error) }, "Worker error"));

  let sweeper: NodeJS.Timeout | undefined;
  let running = false;

  /**
   * Every process competes for the follower lease each poll; the holder follows the chain, renewing the lease between
   * the steps of a pass. A killed holder's lease lapses within seconds, so another process carries on.
   */
  const followerLeaseMs = Math.max(10 * config.relayerPollMs, 2000);
  let following: Promise<void> | undefined;
  let followerTimer: NodeJS.Timeout | undefined;
  const follow = async () => {
    const started = Date.now();
    try {
      const holdLease = () => deps.leases.acquire("follower", followerLeaseMs);
      if (await holdLease()) await follower.pass(holdLease);
    } catch (error) {
      logger.warn({ err: describe(error) }, "Failed a follower pass; will retry");
    }
    if (running) followerTimer = setTimeout(startFollowing, Math.max(0, config.relayerPollMs - (Date.now() - started)));
  };
  const startFollowing = () => {
    following = follow();
  };

  return {
    metrics,
    queue,
    async start() {
      const known = await db.select({ address: walletNonces.address }).from(walletNonces);
      for (const { address } of known) await syncWallet(address as Address, true);
      sweeper = setInterval(() => {
        producer.enqueueOrphans(ORPHAN_AGE_MS).then(
          (added) => added > 0 && logger.warn({ added }, "Enqueued requests that had no job"),
          (error: unknown) => logger.warn({ err: describe(error) }, "Orphan sweep failed"),
        );
      }, ORPHAN_AGE_MS);
      running = true;
      startFollowing();
      void worker.run();
      logger.info({ wallets: known.length, concurrency: config.relayerConcurrency }, "Started relayer");
    },
    async isReady() {
      if (!running || !worker.isRunning()) return false;
      try {
        await Promise.all([redis.ping(), db.execute("SELECT 1"), chain.client.getBlockNumber()]);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      running = false;
      if (sweeper) clearInterval(sweeper);
      if (followerTimer) clearTimeout(followerTimer);
      await following;
      await deps.leases.release("follower").catch(() => undefined);
      await worker.close();
      await queue.close();
    },
  };
}

/** One line: the error and, when it wraps one (a failed query wraps the driver's error), its innermost cause. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const line = (e: Error) => `${e.name}: ${e.message.split("\n")[0]}`;
  let cause: unknown = error.cause;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? `${line(error)} (${line(cause)})` : line(error);
}
