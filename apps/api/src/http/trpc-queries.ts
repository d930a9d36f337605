import {
  type AnyTRPCRouter,
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  type TRPCError,
  transformTRPCResponse,
} from "@trpc/server";
import { getHTTPStatusCode } from "@trpc/server/http";
import type { Context as HonoContext, MiddlewareHandler } from "hono";

export type QueryErrorHandler<TContext> = (opts: {
  error: TRPCError;
  path: string;
  input: unknown;
  ctx: TContext | undefined;
  type: "query";
  req: Request;
}) => void;

export type DirectQueriesOptions<TContext> = {
  router: AnyTRPCRouter;
  /** Where tRPC is mounted (`/trpc`). */
  endpoint: string;
  /** Calls per batch; a larger batch is left to the adapter, which refuses it. */
  maxBatchSize: number;
  /** The same context the adapter builds; `resHeaders` go out with the answer (cookies, `Retry-After`). */
  createContext(c: HonoContext, resHeaders: Headers): Promise<TContext>;
  onError?: QueryErrorHandler<TContext>;
};

/** The headers of every answer, as the adapter sends them. */
const ANSWER_HEADERS = { vary: "trpc-accept, accept", "content-type": "application/json" } as const;

/** One call of a request: its procedure path, its batch position and its raw input. */
type QueryCall = { path: string; index: number; input: unknown };

/** tRPC's answer to one call, before its transformer runs. */
type CallOutcome = { result: { data: unknown } } | { error: unknown };

/**
 * GET queries, single or batched (`httpLink` and `httpBatchLink`), answered by calling the procedures directly
 * instead of through tRPC's fetch adapter. The answers are the adapter's, byte for byte: the same error shapes (tRPC's
 * `getTRPCErrorShape` with our formatter), statuses (`getHTTPStatusCode`, 207 for a mixed batch) and headers. What
 * this skips is the adapter's per-request machinery: parsing the URL twice, abort signals combined per call
 * (`AbortSignal.any`), a fetch `Headers` for every answer. Served, `certificates.get` costs 18 % less CPU for it
 * (docs/performance.md).
 * No query reads the abort signal, so none is passed.
 *
 * Only what it can answer exactly as the adapter would is answered here. Everything else goes on to the adapter, which
 * stays the reference (a test compares the two answer by answer): mutations and subscriptions, streaming
 * (`trpc-accept` or an `accept` naming JSON lines), unknown procedures, another content type, percent-encoded paths,
 * fragments, connection parameters, input that is not JSON, and oversized batches, whose errors the adapter words.
 */
export function directQueries<TContext>(options: DirectQueriesOptions<TContext>): MiddlewareHandler {
  const { router } = options;
  const config = router._def._config;
  const procedures = router._def.procedures as Record<string, { _def: { type: string } } | undefined>;
  const prefix = `${options.endpoint}/`;

  /** The calls of a request this path can answer, or undefined to leave it to the adapter. */
  function queryCalls(c: HonoContext): { calls: QueryCall[]; batch: boolean } | undefined {
    if (c.req.method !== "GET") return undefined;
    const path = c.req.path;
    if (!path.startsWith(prefix)) return undefined;
    const url = c.req.url;
    // A raw request target may keep a fragment, which the adapter (and the request's signature) leave out.
    if (url.includes("#")) return undefined;
    const queryStart = url.indexOf("?");
    // A percent-encoded path is decoded differently by Hono and by tRPC: the adapter's reading is the one that counts.
    if (url.lastIndexOf("%", queryStart === -1 ? undefined : queryStart) !== -1) return undefined;
    const query = queryStart === -1 ? "" : url.slice(queryStart + 1);
    // URLSearchParams reads the query string as the adapter does (`+` is a space, the first of repeated names wins),
    // except a leading `?`, which the adapter keeps in the first name.
    if (query.startsWith("?")) return undefined;
    const search = new URLSearchParams(query);
    // The adapter parses and checks connection parameters on every request.
    if (search.has("connectionParams")) return undefined;
    const contentType = c.req.header("content-type");
    if (contentType !== undefined && !contentType.startsWith("application/json")) return undefined;
    if (c.req.header("trpc-accept") !== undefined || c.req.header("accept")?.includes("application/jsonl")) {
      return undefined;
    }
    const batch = search.get("batch") === "1";
    const paths = batch ? path.slice(prefix.length).split(",") : [path.slice(prefix.length)];
    if (paths.length > options.maxBatchSize) return undefined;
    if (paths.some((name) => procedures[name]?._def.type !== "query")) return undefined;

    let inputs: unknown;
    const text = search.get("input");
    if (text) {
      try {
        inputs = JSON.parse(text);
      } catch {
        return undefined;
      }
    }
    if (batch && inputs !== undefined && (typeof inputs !== "object" || inputs === null || Array.isArray(inputs))) {
      return undefined;
    }
    const deserialize = (input: unknown) =>
      input === undefined ? undefined : config.transformer.input.deserialize(input);
    const calls = paths.map((name, index) => ({
      path: name,
      index,
      input: deserialize(batch ? (inputs as Record<number, unknown> | undefined)?.[index] : inputs),
    }));
    return { calls, batch };
  }

  return async (c, next) => {
    const request = queryCalls(c);
    if (!request) return next();

    const resHeaders = new Headers();
    let ctx: TContext | undefined;
    let contextError: TRPCError | undefined;
    try {
      ctx = await options.createContext(c, resHeaders);
    } catch (cause) {
      contextError = getTRPCErrorFromUnknown(cause);
    }
    const errors: Array<TRPCError | undefined> = [];
    const outcomes = await Promise.all(
      request.calls.map(async (call): Promise<CallOutcome> => {
        try {
          if (contextError) throw contextError;
          const data = await callTRPCProcedure({
            router,
            path: call.path,
            getRawInput: async () => call.input,
            ctx,
            type: "query",
            signal: undefined,
            batchIndex: call.index,
          });
          return { result: { data } };
        } catch (cause) {
          const error = getTRPCErrorFromUnknown(cause);
          errors[call.index] = error;
          options.onError?.({ error, path: call.path, input: call.input, ctx, type: "query", req: c.req.raw });
          return {
            error: getTRPCErrorShape({ config, error, type: "query", path: call.path, input: call.input, ctx }),
          };
        }
      }),
    );
    const json = request.batch ? outcomes : (outcomes[0] as CallOutcome);
    // The adapter's status rules: each call's status, 207 when a batch's differ.
    const status = getHTTPStatusCode(json as Parameters<typeof getHTTPStatusCode>[0], errors);
    const body = JSON.stringify(transformTRPCResponse(config, json as never));
    // A plain object when the procedures added no header (cookies, `Retry-After`): @hono/node-server writes that
    // straight to the socket, where a `Headers` would be converted first.
    if (resHeaders.keys().next().done) return new Response(body, { status, headers: { ...ANSWER_HEADERS } });
    const headers = new Headers(ANSWER_HEADERS);
    for (const [name, value] of resHeaders) headers.append(name, value);
    return new Response(body, { status, headers });
  };
}
