import { createLogger, createShutdown, loadConfig, runMain } from "@certchain/common";
import { readDeployment } from "@certchain/contracts";
import { openDatabase, pingDatabase, registerPoolMetrics } from "@certchain/db";
import { assertNoEviction, createRedis } from "@certchain/queue";
import { serve } from "@hono/node-server";
import { connectChain } from "./chain.ts";
import { createHttpApp } from "./http.ts";
import { createRelayer } from "./relayer.ts";

runMain("relayer", async () => {
  const config = loadConfig();
  const logger = createLogger(config, "relayer");
  const shutdown = createShutdown();
  shutdown.trapSignals((signal) => logger.info({ signal }, "Stopping relayer"));

  const redis = createRedis(config.redisUrl);
  shutdown.add(() => void redis.disconnect());
  await assertNoEviction(redis);

  const database = openDatabase(config, logger, Math.min(20, config.relayerConcurrency + 2));
  shutdown.add(() => database.close());
  await pingDatabase(database, config.databaseUrl);

  const chain = await connectChain(config.ethNodeUrl, config.chainId);
  const deployment = readDeployment(config.chainId, config.deploymentsDir);
  if (config.masterKeyIsDevelopmentDefault && config.nodeEnv !== "test") {
    logger.warn("MASTER_KEY is the development placeholder; custodial keys are not protected");
  }

  const txLogger = createLogger(config, "relayer", "tx");
  const relayer = createRelayer({ config, logger, txLogger, db: database.db, redis, chain, deployment });
  shutdown.add(() => relayer.close());
  await relayer.start();

  registerPoolMetrics(relayer.metrics.registry, database);
  const app = createHttpApp({ isReady: relayer.isReady, registry: relayer.metrics.registry });
  const server = serve({ fetch: app.fetch, hostname: "0.0.0.0", port: config.relayerPort });
  shutdown.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  logger.info({ port: config.relayerPort }, "Serving health and metrics");
});
