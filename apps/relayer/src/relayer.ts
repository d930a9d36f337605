import type { Config, Logger } from "@certchain/common";
import type { Deployment } from "@certchain/contracts";
import { type Db, walletNonces } from "@certchain/db";
import {
  createTxRequestProducer,
  TX_REQUEST_JOB_OPTIONS,
  TX_REQUESTS_QUEUE,
  type TxRequestJobData,
  txStatusChannel,
} from "@certchain/queue";
import { DelayedError, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Address } from "viem";
import type { RelayerChain } from "./chain.ts";
import type { RelayerDeps } from "./deps.ts";
import { createRelayerMetrics, type RelayerMetrics } from "./metrics.ts";
import { createNonceReservations } from "./nonces.ts";
import { createTxPipeline } from "./pipeline.ts";
import { createTxRequestStore } from "./requests.ts";
import { createSigners } from "./signers.ts";

/** A live request whose row has not changed for this long and has no job gets one (see `enqueueOrphans`). */
const ORPHAN_AGE_MS = 10_000;
/** Processing failures after which a request that never reserved a nonce is given up. */
const MAX_ATTEMPTS_WITHOUT_NONCE = 30;

export type RelayerOptions = {
  config: RelayerDeps["config"] & Pick<Config, "redisPrefix" | "operatorPrivateKey" | "masterKey">;
  logger: Logger;
  db: Db;
  /** BullMQ's connection (`maxRetriesPerRequest: null`); also used to publish status changes. */
  redis: Redis;
  chain: RelayerChain;
  deployment: Deployment;
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
  const deps: RelayerDeps = {
    config,
    logger,
    db,
    chain,
    deployment,
    signers: createSigners({
      db,
      operatorPrivateKey: config.operatorPrivateKey,
      masterKeys: new Map([[1, config.masterKey]]),
    }),
    store: createTxRequestStore({
      db,
      publish: async (event) => void (await redis.publish(channel, JSON.stringify(event))),
    }),
    nonces: createNonceReservations(db),
    producer,
    metrics,
    enqueue: async (requestIds) => {
      await queue.addBulk(
        requestIds.map((requestId) => ({
          name: "noop",
          data: { requestId },
          opts: { ...TX_REQUEST_JOB_OPTIONS, jobId: requestId },
        })),
      );
    },
  };
  const pipeline = createTxPipeline(deps);

  const worker = new Worker<TxRequestJobData>(
    TX_REQUESTS_QUEUE,
    async (job, token) => {
      const { requestId } = job.data;
      let outcome: "done" | "wait";
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
      if (outcome === "done") return;
      // The job is the request's timer: park it and let any worker pick it up again, without holding a slot.
      await job.moveToDelayed(Date.now() + config.relayerPollMs, token);
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

  return {
    metrics,
    queue,
    async start() {
      const known = await db.select({ address: walletNonces.address }).from(walletNonces);
      for (const { address } of known) await pipeline.syncWallet(address as Address, true);
      sweeper = setInterval(() => {
        producer.enqueueOrphans(ORPHAN_AGE_MS).then(
          (added) => added > 0 && logger.warn({ added }, "Enqueued requests that had no job"),
          (error: unknown) => logger.warn({ err: describe(error) }, "Orphan sweep failed"),
        );
      }, ORPHAN_AGE_MS);
      void worker.run();
      running = true;
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
      await worker.close();
      await queue.close();
    },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message.split("\n")[0]}` : String(error);
}
