import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { Hono, type Context as HonoContext } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ZodError, z } from "zod";
import { type ApiDeps, createRequestContext } from "../context.ts";
import { appRouter } from "../root.ts";
import { createCallerFactory } from "../trpc.ts";
import { clientIp } from "./client-ip.ts";
import { loggableError } from "./log-error.ts";

const createCaller = createCallerFactory(appRouter);
type Caller = ReturnType<typeof createCaller>;

/** Problems with the request itself (not its fields), with the status to answer. */
class RequestBodyError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 415,
  ) {
    super(message);
  }
}

/**
 * The JSON body. Other content types are refused: a cross-site HTML form can post `text/plain` that happens to
 * parse as JSON without a CORS preflight, and must not be able to sign a victim into an attacker's account.
 */
async function jsonBody(c: HonoContext): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  if (!/^application\/json\b/i.test(c.req.header("content-type") ?? "")) {
    throw new RequestBodyError("Request bodies must be sent as application/json", 415);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new RequestBodyError("The request body must be JSON", 400);
  }
}

/**
 * Query-string input: every parameter is a string, so those named in `numeric` are turned into numbers when they look
 * like one (anything else is passed through for the procedure's schema to reject with a clear message).
 */
function queryInput(c: HonoContext, numeric: readonly string[] = []): Record<string, unknown> {
  const input: Record<string, unknown> = { ...c.req.query() };
  for (const name of numeric) {
    const value = input[name];
    if (typeof value === "string" && /^-?\d+$/.test(value)) input[name] = Number(value);
  }
  return input;
}

const pathId = (c: HonoContext) =>
  /^\d+$/.test(c.req.param("id") ?? "") ? Number(c.req.param("id")) : c.req.param("id");

type RestRoute = {
  method: "get" | "post" | "put" | "delete";
  path: string;
  /** Reads the input from the request and calls the matching procedure. */
  call(caller: Caller, c: HonoContext): Promise<unknown>;
};

/**
 * The seed's REST paths, each answered by the tRPC procedure of the same name, so both surfaces share validation,
 * authorization and output shapes. Inputs come from the JSON body (POST, PUT, DELETE) or the query string (GET).
 */
const routes: RestRoute[] = [
  {
    method: "post",
    path: "/auth/register",
    call: async (caller, c) => caller.auth.register((await jsonBody(c)) as never),
  },
  { method: "post", path: "/auth/login", call: async (caller, c) => caller.auth.login((await jsonBody(c)) as never) },
  { method: "post", path: "/auth/logout", call: (caller) => caller.auth.logout() },
  { method: "get", path: "/auth/profile", call: (caller) => caller.auth.profile() },
  // `list` before `:id`, so "list" is never read as an id.
  {
    method: "get",
    path: "/certificates/list",
    call: (caller, c) => caller.certificates.list(queryInput(c, ["limit"]) as never),
  },
  {
    method: "get",
    path: "/certificates/:id",
    call: (caller, c) => caller.certificates.get({ tokenId: pathId(c) } as never),
  },
  {
    method: "get",
    path: "/market/listings",
    call: (caller, c) => caller.market.listings(queryInput(c, ["limit", "tokenId"]) as never),
  },
  {
    method: "get",
    path: "/account/transactions",
    call: (caller, c) => caller.account.transactions(queryInput(c, ["limit"]) as never),
  },
];

function errorResponse(c: HonoContext, error: unknown, deps: ApiDeps): Response {
  if (error instanceof RequestBodyError) {
    const code = error.status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "BAD_REQUEST";
    return c.json({ error: { code, message: error.message } }, error.status);
  }
  if (error instanceof TRPCError) {
    const status = getHTTPStatusCodeFromError(error) as ContentfulStatusCode;
    if (error.code === "INTERNAL_SERVER_ERROR") {
      deps.logger.error({ err: loggableError(error.cause ?? error), path: c.req.path }, "REST request failed");
      return c.json({ error: { code: error.code, message: "Internal server error" } }, 500);
    }
    const fieldErrors = error.cause instanceof ZodError ? z.flattenError(error.cause) : undefined;
    return c.json(
      { error: { code: error.code, message: error.message, ...(fieldErrors ? { fieldErrors } : {}) } },
      status,
    );
  }
  throw error;
}

export function createRestRoutes(deps: ApiDeps): Hono {
  const rest = new Hono();
  for (const route of routes) {
    rest[route.method](route.path, async (c) => {
      const resHeaders = new Headers();
      const ctx = await createRequestContext(deps, { headers: c.req.raw.headers, ip: clientIp(c) }, resHeaders);
      let response: Response;
      try {
        response = c.json((await route.call(createCaller(ctx), c)) ?? null);
      } catch (error) {
        response = errorResponse(c, error, deps);
      }
      for (const cookie of resHeaders.getSetCookie()) response.headers.append("set-cookie", cookie);
      return response;
    });
  }
  return rest;
}
