import { randomUUID } from "node:crypto";
import type { HttpBindings } from "@hono/node-server";
import type { MiddlewareHandler } from "hono";
import type { ApiEnv } from "./access-log.ts";
import { setResponseHeader } from "./response-headers.ts";

/**
 * The security headers every answer carries: those of Hono's `secureHeaders()` with its defaults (a test checks that
 * they still match). A route with a policy of its own (the docs and verify pages, the document gateway) sets its own
 * values, which win.
 */
export const SECURITY_HEADERS: ReadonlyArray<readonly [name: string, value: string]> = [
  ["cross-origin-resource-policy", "same-origin"],
  ["cross-origin-opener-policy", "same-origin"],
  ["origin-agent-cluster", "?1"],
  ["referrer-policy", "no-referrer"],
  ["strict-transport-security", "max-age=15552000; includeSubDomains"],
  ["x-content-type-options", "nosniff"],
  ["x-dns-prefetch-control", "off"],
  ["x-download-options", "noopen"],
  ["x-frame-options", "SAMEORIGIN"],
  ["x-permitted-cross-domain-policies", "none"],
  ["x-xss-protection", "0"],
];

export const REQUEST_ID_HEADER = "x-request-id";

/** A request id the client chose is kept if it is a plain token (as Hono's `requestId()` accepts), else replaced. */
const CLIENT_REQUEST_ID = /^[\w\-=]{1,255}$/;

/**
 * Gives the request its id (`c.get("requestId")`, sent back as `X-Request-Id`) and every answer the security headers.
 *
 * Served by @hono/node-server, the headers go on Node's response before the handler runs, and Node merges them with
 * the handler's when it writes the head. Nothing then touches the handler's `Response` afterwards: reading its
 * `headers` would turn node-server's light response into a full fetch `Headers`, and copying headers into it after
 * the fact (as `secureHeaders()` and `requestId()` do) cost `certificates.get` about a sixth of its CPU
 * (docs/performance.md). Called in-process (`app.request()`, tests) there is no Node response, so they are set on
 * the finished `Response` instead, again without replacing a value the handler chose.
 */
export function standardHeaders(): MiddlewareHandler<ApiEnv & { Bindings: Partial<HttpBindings> }> {
  return async (c, next) => {
    const given = c.req.header(REQUEST_ID_HEADER);
    const requestId = given !== undefined && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
    c.set("requestId", requestId);
    const outgoing = c.env?.outgoing;
    if (outgoing) {
      for (const [name, value] of SECURITY_HEADERS) outgoing.setHeader(name, value);
      outgoing.setHeader(REQUEST_ID_HEADER, requestId);
      return next();
    }
    await next();
    for (const [name, value] of SECURITY_HEADERS) {
      if (!c.res.headers.has(name)) setResponseHeader(c, name, value);
    }
    if (!c.res.headers.has(REQUEST_ID_HEADER)) setResponseHeader(c, REQUEST_ID_HEADER, requestId);
  };
}
