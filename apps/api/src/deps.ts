import { type Config, createLogger, type Logger } from "@certchain/common";
import { type Deployment, readDeployment } from "@certchain/contracts";
import type { Db, DbHandle } from "@certchain/db";
import {
  createFailFastRedis,
  createTxRequestProducer,
  TX_REQUESTS_QUEUE,
  type TxRequestJobData,
  txStatusChannel,
} from "@certchain/queue";
import { type ContentStore, createContentStore } from "@certchain/storage";
import { Queue } from "bullmq";
import { createPublicClient, http } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { createReadCaches } from "./cache.ts";
import { createBalanceReader } from "./chain/balances.ts";
import { createHeadReader } from "./chain/head.ts";
import type { ApiDeps } from "./context.ts";
import { createLimits } from "./http/rate-limit.ts";
import { createTxStatusFeed } from "./tx-status-feed.ts";

export type ApiDepsOptions = {
  /** Registers cleanups (the queue's Redis connection); tests pass their own. */
  onClose?: (close: () => Promise<void>) => void;
  logger?: Logger;
  /** The contracts to talk to; by default `<CHAIN_ID>.json` from DEPLOYMENTS_DIR. */
  deployment?: Deployment;
  /** Documents and metadata by CID; by default the store configured by STORAGE_DIR and IPFS_API_URL. */
  storage?: ContentStore;
  /** The pool behind `db`, so `/metrics` shows its use. */
  pool?: Pick<DbHandle, "poolStats">;
};

/** Builds the API's dependencies from its configuration and an open database (shared by `main.ts` and tests). */
export async function createApiDeps(config: Config, db: Db, options: ApiDepsOptions = {}): Promise<ApiDeps> {
  const client = createPublicClient({ transport: http(config.ethNodeUrl, { retryCount: 1, timeout: 5_000 }) });
  const deployment = options.deployment ?? readDeployment(config.chainId, config.deploymentsDir);
  // Fails fast while Redis is down: what needs it answers 503 at once instead of hanging (see `http/unavailable.ts`).
  const redis = createFailFastRedis(config.redisUrl);
  const queue = new Queue<TxRequestJobData>(TX_REQUESTS_QUEUE, { connection: redis, prefix: config.redisPrefix });
  const logger = options.logger ?? createLogger(config, "api");
  const txStatus = createTxStatusFeed({ redis, channel: txStatusChannel(config.redisPrefix), logger });
  const limits = createLimits(config, logger);
  const cache = createReadCaches(config, logger);
  // Logins fail closed while the limiter's Redis is unreachable; give it a moment to connect before serving (the
  // read caches, too: they skip their in-process tier until subscribed to invalidations).
  await Promise.race([
    Promise.all([limits.ready(), cache.ready()]),
    new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
  ]);
  options.onClose?.(async () => {
    await cache.close();
    await limits.close();
    await txStatus.close();
    await queue.close();
    redis.disconnect();
  });
  return {
    config,
    db,
    logger,
    accessLogger: createLogger(config, "api", "access"),
    head: createHeadReader(client),
    chain: { client, contracts: deployment.contracts },
    balances: createBalanceReader(client, deployment.contracts.PaymentToken.address, cache.balances),
    producer: createTxRequestProducer({ db, queue }),
    operatorAddress: privateKeyToAddress(config.operatorPrivateKey).toLowerCase() as `0x${string}`,
    redis,
    txStatus,
    limits,
    cache,
    pool: options.pool,
    storage:
      options.storage ??
      (await createContentStore({
        directory: config.storageDir,
        ipfsApiUrl: config.ipfsApiUrl,
        ipfsTimeoutMs: config.ipfsApiTimeoutMs,
      })),
  };
}
