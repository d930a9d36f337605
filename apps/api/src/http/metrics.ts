import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { appRouter } from "../root.ts";
import { TRPC_PREFIX, trpcCallNames } from "./trpc-path.ts";

export type ApiMetrics = {
  registry: Registry;
  /** Times every request; mount before the routes. */
  middleware: MiddlewareHandler;
};

const procedures = new Set(Object.keys(appRouter._def.procedures));

/**
 * The label for a request: its procedure for tRPC (`trpc:certificates.get`; a batch is `trpc:batch`, commas
 * percent-encoded or not), else the route pattern that matched (`/api/certificates/:id`). Never the raw path, whose
 * ids would give each request a series.
 */
export function routeLabel(c: Context): string {
  const names = trpcCallNames(c);
  if (names) {
    if (names.length > 1) return "trpc:batch";
    return procedures.has(names[0] ?? "") ? `trpc:${names[0]}` : "trpc:unknown";
  }
  if (c.req.path.startsWith(TRPC_PREFIX)) return "trpc:unknown";
  const matched = routePath(c);
  return matched === "/*" || matched === "*" ? "unmatched" : matched;
}

/** The API's Prometheus metrics in a registry of their own, served at `/metrics`. */
export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "api_" });
  const duration = new Histogram({
    name: "api_http_request_duration_seconds",
    help: "HTTP requests by method, route (or tRPC procedure) and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    registry,
    middleware: async (c, next) => {
      const stop = duration.startTimer();
      await next();
      stop({ method: c.req.method, route: routeLabel(c), status: String(c.res.status) });
    },
  };
}
