import type { Logger } from "@certchain/common";
import type { Context, MiddlewareHandler } from "hono";
import { routeLabel } from "./metrics.ts";

/** What handlers tell the access log: the signed-in user, once the request's session has been read. */
export type ApiEnv = { Variables: { requestId: string; userId?: number } };

/**
 * One line per request on the access channel: request id, method, route (the procedure for tRPC, the pattern for
 * paths, never ids or query strings), status, duration and the user id when signed in. Bodies, headers and tokens are
 * never logged.
 */
export function accessLog(logger: Logger): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    logger.info({
      reqId: c.get("requestId"),
      method: c.req.method,
      route: routeLabel(c),
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      userId: c.get("userId") ?? null,
    });
  };
}

/** Records who the request's session belongs to, for the access log. */
export function rememberUser(c: Context, userId: number | undefined): void {
  (c as Context<ApiEnv>).set("userId", userId);
}

/** The request's id (also sent as `X-Request-Id`), for error answers and logs. */
export const requestIdOf = (c: Context): string | undefined => (c as Context<ApiEnv>).get("requestId");
