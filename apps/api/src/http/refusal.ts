import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { Context as HonoContext } from "hono";

type RefusalCode = "UNAUTHORIZED" | "TOO_MANY_REQUESTS" | "SERVICE_UNAVAILABLE";
type RefusalStatus = 401 | 429 | 503;

/**
 * A request refused before it reaches a procedure or a route (rate limits, signatures), in the shape the path's clients
 * read: tRPC's error envelope under `/trpc` (its client needs the numeric code; a batch's calls all get it), the REST
 * error body elsewhere.
 */
export function refusal(c: HonoContext, status: RefusalStatus, code: RefusalCode, message: string): Response {
  if (c.req.path.startsWith("/trpc/")) {
    const error = { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus: status } };
    return c.json({ error }, status);
  }
  return c.json({ error: { code, message } }, status);
}
