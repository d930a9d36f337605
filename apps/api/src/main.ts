/** `npm run api`: serves the API on API_PORT until SIGINT/SIGTERM, then drains connections and closes the pool. */
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { type Config, createLogger, createShutdown, loadConfig, runMain, UserFacingError } from "@certchain/common";
import { openDatabase, pingDatabase } from "@certchain/db";
import { type ServerType, serve } from "@hono/node-server";
import { createApp } from "./app.ts";
import { createApiDeps } from "./deps.ts";

runMain("api", async () => {
  const config = loadConfig();
  const logger = createLogger(config, "api");
  const shutdown = createShutdown();
  const database = openDatabase(config, logger, API_DB_POOL_SIZE);
  shutdown.add(() => database.close());
  await pingDatabase(database, config.databaseUrl);

  const app = createApp(
    await createApiDeps(config, database.db, { logger, pool: database, onClose: (close) => shutdown.add(close) }),
  );
  const server = await listen(app.fetch, config);
  logger.info({ port: config.apiPort, https: config.tls !== undefined }, "API listening");
  shutdown.add(() => closeServer(server));
  shutdown.trapSignals((signal) => logger.info({ signal }, "Shutting down"));
});

/** Connections per API process unless DB_POOL_SIZE says otherwise. */
const API_DB_POOL_SIZE = 10;

/** How long in-flight requests (a large download, say) may take to finish once shutdown starts. */
const DRAIN_TIMEOUT_MS = 10_000;

/** The certificate and key for HTTPS, read once; an unreadable file is one line naming its variable. */
function tlsOptions(tls: NonNullable<Config["tls"]>): { cert: Buffer; key: Buffer } {
  const read = (path: string, variable: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UserFacingError(`${variable} ${path} cannot be read (${(error as NodeJS.ErrnoException).code})`);
    }
  };
  return { cert: read(tls.certFile, "TLS_CERT_FILE"), key: read(tls.keyFile, "TLS_KEY_FILE") };
}

/**
 * Starts listening, over HTTPS when TLS_CERT_FILE and TLS_KEY_FILE are set (otherwise plain HTTP, for a TLS-terminating
 * proxy in front: see TRUST_PROXY); a port in use or not permitted is one line naming API_PORT, not a stack trace.
 */
function listen(fetch: (request: Request) => Response | Promise<Response>, config: Config): Promise<ServerType> {
  const port = config.apiPort;
  const https = config.tls ? { createServer: createHttpsServer, serverOptions: tlsOptions(config.tls) } : {};
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, ...https }, () => resolve(server));
    server.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "is already in use" : `cannot be used (${error.code ?? error.message})`;
      reject(new UserFacingError(`port ${port} (API_PORT) ${why}`));
    });
  });
}

/** Stops accepting connections, lets in-flight requests finish, and cuts off whatever still runs after the timeout. */
function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if ("closeAllConnections" in server) server.closeAllConnections();
    }, DRAIN_TIMEOUT_MS);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
