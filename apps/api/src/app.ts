import { describeMysqlError, registerPoolMetrics } from "@certchain/db";
import { formatBytes } from "@certchain/storage";
import { sql } from "drizzle-orm";
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { ApiDeps } from "./context.ts";
import { accessLog, requestIdOf } from "./http/access-log.ts";
import { createDocsRoutes } from "./http/docs.ts";
import { createGatewayRoutes } from "./http/gateway.ts";
import { loggableError } from "./http/log-error.ts";
import { createApiMetrics } from "./http/metrics.ts";
import { createOpenApiRoutes } from "./http/openapi.ts";
import { setResponseHeader } from "./http/response-headers.ts";
import { createRestRoutes } from "./http/rest.ts";
import { rejectCrossSiteCookieWrites } from "./http/security.ts";
import { verifySignedRequests } from "./http/signatures.ts";
import { standardHeaders } from "./http/standard-headers.ts";
import { createTrpcHandlers } from "./http/trpc-handlers.ts";
import { RETRY_AFTER_SECONDS, reportUnavailable, unavailableMessage, unavailableService } from "./http/unavailable.ts";
import { createVerifyPages } from "./http/verify-pages.tsx";

/** JSON bodies of tRPC and REST calls; document uploads have their own, larger limit. */
const MAX_JSON_BODY_BYTES = 1024 * 1024;
/** Room for a form's other fields and its multipart framing beside the file (a description may be 10,000 chars). */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
/**
 * Paths that take a document upload, so their bodies may be `UPLOAD_MAX_BYTES` plus the overhead; a file over the
 * limit that fits is still refused (413) by `readUpload`, with its size. Exact paths only: a tRPC batch never carries a
 * file and keeps the JSON limit. `/verify/document` applies the same limit itself, to answer with the page.
 */
const UPLOAD_PATHS = new Set([
  "/trpc/certificates.create",
  "/trpc/certificates.verifyDocument",
  "/api/certificates/create",
  "/api/certificates/verify-document",
]);

const tooLarge = bodyLimit({
  maxSize: MAX_JSON_BODY_BYTES,
  onError: (c) =>
    c.json(
      { error: { code: "PAYLOAD_TOO_LARGE", message: `Request bodies are limited to ${MAX_JSON_BODY_BYTES} bytes` } },
      413,
    ),
});

/**
 * CORS for the browser origins in CORS_ORIGINS, with cookies; none at all (same-origin only) when the list is empty.
 * Cookie-authenticated writes from those origins also pass the CSRF check; any other origin is refused.
 *
 * Only requests that name an `Origin` go through the CORS middleware: only browsers send one, and only they read its
 * headers. The middleware touches the response before the handler runs, which makes Hono copy every answer (and
 * @hono/node-server stream the copy); other clients are spared that and get just `Vary: Origin`, so a cache never
 * hands their answer to a browser.
 */
function crossOrigin(origins: readonly string[]): MiddlewareHandler {
  if (origins.length === 0) return (_c, next) => next();
  const forBrowsers = cors({
    origin: [...origins],
    credentials: true,
    allowMethods: ["GET", "POST", "PUT", "DELETE"],
    allowHeaders: ["content-type", "authorization", "idempotency-key", "trpc-accept", "x-trpc-source"],
    exposeHeaders: ["retry-after"],
    maxAge: 600,
  });
  return async (c, next) => {
    if (c.req.header("origin") !== undefined) return forBrowsers(c, next);
    await next();
    setResponseHeader(c, "vary", "Origin", { append: true });
  };
}

/**
 * The API as a Hono app, separate from any socket: `main.ts` serves it, tests call `app.request()`.
 * tRPC at `/trpc`, the seed's REST paths at `/api` (described by `/api/openapi.json` and the `/docs` page), and the
 * probes.
 */
export function createApp(deps: ApiDeps) {
  const maxUploadBodyBytes = deps.config.uploadMaxBytes + MULTIPART_OVERHEAD_BYTES;
  const uploadTooLarge = bodyLimit({
    maxSize: maxUploadBodyBytes,
    onError: (c) =>
      c.json(
        {
          error: {
            code: "PAYLOAD_TOO_LARGE",
            message: `Documents are limited to ${formatBytes(deps.config.uploadMaxBytes)}`,
          },
        },
        413,
      ),
  });
  const bodyLimitByPath: MiddlewareHandler = (c, next) => {
    // A GET or HEAD has no body to limit; asking for one would make @hono/node-server build a full fetch Request.
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    return (UPLOAD_PATHS.has(c.req.path) ? uploadTooLarge : tooLarge)(c, next);
  };
  const trpc = createTrpcHandlers(deps);
  const metrics = createApiMetrics();
  if (deps.pool) registerPoolMetrics(metrics.registry, deps.pool);
  deps.cache.registerMetrics(metrics.registry);
  return (
    new Hono()
      .onError((error, c) => {
        const service = unavailableService(error);
        if (service) {
          reportUnavailable(deps.logger, service, error);
          c.header("retry-after", String(RETRY_AFTER_SECONDS));
          return c.json({ error: { code: "SERVICE_UNAVAILABLE", message: unavailableMessage(error, service) } }, 503);
        }
        const reqId = requestIdOf(c);
        deps.logger.error(
          { err: loggableError(error), reqId, method: c.req.method, path: c.req.path },
          "Request failed",
        );
        return c.json(
          { error: { code: "INTERNAL_SERVER_ERROR", message: `Internal server error (request ${reqId})` } },
          500,
        );
      })
      .notFound((c) =>
        c.json({ error: { code: "NOT_FOUND", message: `No route for ${c.req.method} ${c.req.path}` } }, 404),
      )
      .use(standardHeaders())
      .use(accessLog(deps.accessLogger))
      .use(metrics.middleware)
      .use(rejectCrossSiteCookieWrites(deps.config.corsOrigins))
      .use("/trpc/*", crossOrigin(deps.config.corsOrigins))
      .use("/api/*", crossOrigin(deps.config.corsOrigins))
      .get("/healthz", (c) => c.json({ status: "ok" }))
      // For the operators' Prometheus; a public deployment keeps it off the proxy (docs/deploy.md).
      .get("/metrics", async (c) =>
        c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
      )
      .get("/readyz", async (c) => {
        try {
          await deps.db.execute(sql`SELECT 1`);
          return c.json({ status: "ready" });
        } catch (error) {
          const reason = describeMysqlError(error, deps.config.databaseUrl) ?? "the database did not answer";
          return c.json({ status: "unavailable", reason }, 503);
        }
      })
      .use("/trpc/*", deps.limits.requests)
      .use("/api/*", deps.limits.requests)
      .use("/verify/*", deps.limits.requests)
      .use("/ipfs/*", deps.limits.requests)
      .use("/trpc/*", bodyLimitByPath)
      .use("/api/*", bodyLimitByPath)
      .use("/trpc/*", verifySignedRequests(deps))
      .use("/api/*", verifySignedRequests(deps))
      .use("/trpc/*", deps.limits.signedRequests)
      .use("/api/*", deps.limits.signedRequests)
      .use("/trpc/*", trpc.queries)
      .use("/trpc/*", trpc.adapter)
      .route("/api", createRestRoutes(deps))
      .route("/api", createOpenApiRoutes())
      .route("/docs", createDocsRoutes())
      .route("/ipfs", createGatewayRoutes(deps.storage))
      .route("/verify", createVerifyPages(deps, { maxUploadBodyBytes }))
  );
}
