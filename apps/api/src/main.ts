/** `npm run api`: serves the API on API_PORT until SIGINT/SIGTERM, then drains connections and closes the pool. */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type Config, createLogger, createShutdown, loadConfig, runMain, UserFacingError } from "@certchain/common";
import { openDatabase, pingDatabase } from "@certchain/db";
import { type ServerType, serve } from "@hono/node-server";
import { createApp } from "./app.ts";
import { createApiDeps } from "./deps.ts";

/** Connections per API process unless DB_POOL_SIZE says otherwise (above `runMain`, which reads it at once). */
const API_DB_POOL_SIZE = 10;

runMain("api", async () => {
  const config = loadConfig();
  const logger = createLogger(config, "api");
  const shutdown = createShutdown();
  const database = openDatabase(config, logger, API_DB_POOL_SIZE, {
    statementTimeoutMs: config.apiDbTimeoutMs,
    // Every request runs a statement or two: a stack captured for each cost more than the statement's own handling.
    // A failed one is still logged with its SQL, procedure and request id.
    traceCallers: false,
  });
  shutdown.add(() => database.close());
  await pingDatabase(database, config.databaseUrl);

  const app = createApp(
    await createApiDeps(config, database.db, { logger, pool: database, onClose: (close) => shutdown.add(close) }),
  );
  const server = await listen(app.fetch, config);
  logger.info({ port: config.apiPort, https: config.tls !== undefined }, "API listening");
  shutdown.add(() => closeServer(server));
  if (config.httpRedirectPort !== undefined) {
    const redirect = await listenForRedirects(config.httpRedirectPort, config);
    logger.info({ port: config.httpRedirectPort }, "Redirecting HTTP to HTTPS");
    shutdown.add(() => new Promise<void>((resolve) => redirect.close(() => resolve())));
  }
  shutdown.trapSignals((signal) => logger.info({ signal }, "Shutting down"));
});

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

/**
 * A plain-HTTP listener that sends every request to the same path over HTTPS (308 keeps the method and body). The
 * target is API_PUBLIC_URL when it is an https:// origin; otherwise the host the client asked for, on API_PORT.
 */
function listenForRedirects(port: number, config: Config): Promise<Server> {
  const publicUrl = new URL(config.apiPublicUrl);
  const originFor = (host: string | undefined) => {
    if (publicUrl.protocol === "https:") return publicUrl.origin;
    let hostname = "localhost";
    try {
      hostname = new URL(`http://${host ?? "localhost"}`).hostname;
    } catch {
      // A malformed Host header: fall back to localhost rather than echo it.
    }
    return `https://${hostname}:${config.apiPort}`;
  };
  const server = createHttpServer((request, response) => {
    response.writeHead(308, { location: `${originFor(request.headers.host)}${request.url ?? "/"}` }).end();
  });
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "is already in use" : `cannot be used (${error.code ?? error.message})`;
      reject(new UserFacingError(`port ${port} (HTTP_REDIRECT_PORT) ${why}`));
    });
    server.listen(port, () => resolve(server));
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
