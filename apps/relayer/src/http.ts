import { Hono } from "hono";
import type { Registry } from "prom-client";

/** `/healthz` (the process answers), `/readyz` (dependencies answer and the worker runs), `/metrics` (Prometheus). */
export function createHttpApp(deps: { isReady: () => Promise<boolean>; registry: Registry }) {
  return new Hono()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) =>
      (await deps.isReady()) ? c.json({ status: "ready" }) : c.json({ status: "not ready" }, 503),
    )
    .get("/metrics", async (c) =>
      c.text(await deps.registry.metrics(), 200, { "content-type": deps.registry.contentType }),
    );
}
