import { parseArgs } from "node:util";
import { createLogger, createShutdown, loadConfig, runMain, UserFacingError } from "@certchain/common";
import { readDeployment } from "@certchain/contracts";
import { pingDatabase } from "@certchain/db";
import { createCacheInvalidator } from "@certchain/queue";
import { serve } from "@hono/node-server";
import type { Common } from "./common.ts";
import { createIndexer } from "./indexer.ts";
import { createMetrics } from "./metrics.ts";
import { createServerApp } from "./server.ts";

/**
 * `npm run indexer [-- options]`
 *   --rebuild                forget the indexed state and index again from the deployment blocks (recovery from a
 *                            reorg deeper than FINALITY_DEPTH); the daemon then runs as usual
 *   --rebuild-from <block>   forget what was indexed from <block> on (at or below the fork of a reorg deeper than
 *                            FINALITY_DEPTH) and re-index from there; refused if rows kept below it come from orphaned
 *                            blocks. Re-indexing may start earlier: a certificate or listing changed at or after
 *                            <block> is rebuilt from the block that created it
 *   --deployments-dir <dir>  where `<chainId>.json` lives (default DEPLOYMENTS_DIR, else packages/contracts/deployments)
 *   --poll-interval-ms <n>   head polling interval (default 1000)
 *   --lease-ttl-ms <n>       writer lease TTL (default 5000)
 *   --backfill-batch-blocks <n>  blocks per backfill transaction (default 5000)
 */
runMain("indexer", async () => {
  const { values } = parseArgs({
    options: {
      rebuild: { type: "boolean", default: false },
      "rebuild-from": { type: "string" },
      "deployments-dir": { type: "string" },
      "poll-interval-ms": { type: "string" },
      "lease-ttl-ms": { type: "string" },
      "backfill-batch-blocks": { type: "string" },
    },
  });
  const positive = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0)
      throw new UserFacingError(`--${name} must be a positive whole number`);
    return number;
  };

  const rebuildFrom = positive("rebuild-from", values["rebuild-from"]);
  if (values.rebuild && rebuildFrom !== undefined)
    throw new UserFacingError("--rebuild and --rebuild-from exclude each other");

  const config = loadConfig();
  const logger = createLogger(config, "indexer");
  const shutdown = createShutdown();
  const common: Common = { config, logger, metrics: createMetrics(), shutdown };
  const deployment = readDeployment(config.chainId, values["deployments-dir"] ?? config.deploymentsDir);

  const cacheInvalidator = createCacheInvalidator({
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    logger,
  });
  shutdown.add(() => cacheInvalidator.close());
  const indexer = createIndexer(common, {
    deployment,
    cacheInvalidator,
    pollIntervalMs: positive("poll-interval-ms", values["poll-interval-ms"]),
    leaseTtlMs: positive("lease-ttl-ms", values["lease-ttl-ms"]),
    backfillBatchBlocks: positive("backfill-batch-blocks", values["backfill-batch-blocks"]),
    progress: process.stderr.isTTY,
  });
  await pingDatabase(indexer.db, config.databaseUrl);
  shutdown.add(() => indexer.stop());

  const server = serve({
    fetch: createServerApp(common, indexer).fetch,
    port: config.indexerPort,
    hostname: "0.0.0.0",
  });
  shutdown.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  logger.info({ port: config.indexerPort }, "Serving health and metrics");
  shutdown.trapSignals((signal) => logger.info({ signal }, "Stopping"));

  if (values.rebuild) await indexer.rebuild();
  if (rebuildFrom !== undefined) await indexer.rebuildFrom(rebuildFrom);
  try {
    await indexer.run();
  } finally {
    if (!shutdown.isShuttingDown) await shutdown.run("indexer stopped");
  }
  const failure = indexer.status().failure;
  if (failure) throw failure;
});
