import { trpcServer } from "@hono/trpc-server";
import type { TRPCError } from "@trpc/server";
import type { Context as HonoContext, MiddlewareHandler } from "hono";
import type { ApiDeps, Context } from "../context.ts";
import { appRouter } from "../root.ts";
import { requestContextOf } from "./caller.ts";
import { loggableError } from "./log-error.ts";
import { directQueries } from "./trpc-queries.ts";
import { toUnavailableError } from "./unavailable.ts";

const ENDPOINT = "/trpc";
/** Calls per tRPC batch request: batching must not multiply what one request may cost. */
const MAX_BATCH_SIZE = 10;

export type TrpcHandlers = {
  /** GET queries, answered by calling the procedures directly; passes every other request on. */
  queries: MiddlewareHandler;
  /** tRPC's fetch adapter (`@hono/trpc-server`): mutations, subscriptions, and whatever `queries` passed on. */
  adapter: MiddlewareHandler;
};

/**
 * tRPC at `/trpc`, mounted as `queries` then `adapter`. Both resolve the caller the same way and log the same
 * failures, so a client cannot tell which one answered (`trpc-queries.ts` says why there are two).
 */
export function createTrpcHandlers(deps: ApiDeps): TrpcHandlers {
  async function createContext(c: HonoContext, resHeaders: Headers): Promise<Context> {
    return requestContextOf(deps, c, resHeaders).catch((error: unknown) => {
      // Resolving the caller reads the database: while it is down, 503 rather than 500.
      throw toUnavailableError(error, resHeaders, deps.logger) ?? error;
    });
  }
  function onError({ error, path, ctx }: { error: TRPCError; path: string | undefined; ctx?: Context | undefined }) {
    // Client errors are the client's business; only our own failures are logged.
    if (error.code === "INTERNAL_SERVER_ERROR") {
      const reqId = ctx?.meta.requestId;
      deps.logger.error({ err: loggableError(error.cause ?? error), reqId, path }, "Procedure failed");
    }
  }
  return {
    queries: directQueries({
      router: appRouter,
      endpoint: ENDPOINT,
      maxBatchSize: MAX_BATCH_SIZE,
      createContext,
      onError,
    }),
    adapter: trpcServer({
      endpoint: ENDPOINT,
      maxBatchSize: MAX_BATCH_SIZE,
      router: appRouter,
      createContext: (opts, c) => createContext(c, opts.resHeaders),
      onError,
    }),
  };
}
