/** `npm run api`: serves the API on API_PORT until SIGINT/SIGTERM, then drains connections and closes the pool. */
import { createLogger, createShutdown, loadConfig, runMain } from "@certchain/common";
import { createDb, pingDatabase } from "@certchain/db";
import { serve } from "@hono/node-server";
import { createApp } from "./app.ts";
import { createApiDeps } from "./deps.ts";

runMain("api", async () => {
  const config = loadConfig();
  const logger = createLogger(config, "api");
  const shutdown = createShutdown();
  const database = createDb(config.databaseUrl);
  shutdown.add(() => database.close());
  await pingDatabase(database, config.databaseUrl);

  const app = createApp(await createApiDeps(config, database.db, { logger }));
  const server = serve({ fetch: app.fetch, port: config.apiPort }, (info) => {
    logger.info({ port: info.port }, "API listening");
  });
  shutdown.add(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  );
  shutdown.trapSignals((signal) => logger.info({ signal }, "Shutting down"));
});
