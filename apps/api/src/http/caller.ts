import type { Context as HonoContext } from "hono";
import { type ApiDeps, type Context, createRequestContext } from "../context.ts";
import { rememberUser, requestIdOf } from "./access-log.ts";
import { clientIp } from "./client-ip.ts";
import { apiKeyOf } from "./signatures.ts";

/**
 * The procedures' context for a Hono request, as tRPC and the REST paths resolve it: its session or verified API key,
 * client address and request id; the user is recorded for the access log.
 */
export async function requestContextOf(deps: ApiDeps, c: HonoContext, resHeaders: Headers): Promise<Context> {
  const ctx = await createRequestContext(
    deps,
    {
      headers: c.req.raw.headers,
      ip: clientIp(c, deps.config.trustProxy),
      requestId: requestIdOf(c),
      apiKey: apiKeyOf(c),
    },
    resHeaders,
  );
  rememberUser(c, (ctx.session ?? ctx.apiKey)?.user.id);
  return ctx;
}
