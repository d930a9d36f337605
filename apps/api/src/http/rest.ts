import { type inferRouterInputs, TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { Hono, type Context as HonoContext } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ZodError, z } from "zod";
import type { ApiDeps } from "../context.ts";
import { type AppRouter, appRouter } from "../root.ts";
import { createCallerFactory, describeInputError } from "../trpc.ts";
import { requestIdOf } from "./access-log.ts";
import { requestContextOf } from "./caller.ts";
import { loggableError } from "./log-error.ts";

const createCaller = createCallerFactory(appRouter);

type Inputs = inferRouterInputs<AppRouter>;
/** A procedure by its dotted path in `AppRouter` (`certificates.get`). */
export type ProcedurePath = { [R in keyof Inputs & string]: `${R}.${keyof Inputs[R] & string}` }[keyof Inputs & string];

/**
 * Where a route's input comes from: a JSON body, the query string, nothing, or a body that is either JSON or
 * `multipart/form-data` (document uploads; the procedure takes the `FormData` as tRPC clients send it).
 */
export type InputSource = "json" | "query" | "none" | "form";

export type RestRoute = {
  method: "get" | "post" | "put" | "delete";
  /** Under `/api`, in Hono's syntax (`/certificates/:id`). */
  path: string;
  /** The procedure that answers: both surfaces share validation, authorization and output shapes. */
  procedure: ProcedurePath;
  input: InputSource;
  /** Path parameters and the input field each one fills; their values are whole numbers. */
  params?: Record<string, string>;
  /** Query parameters that are numbers (everything in a query string arrives as text). */
  numeric?: readonly string[];
  summary: string;
};

/**
 * The seed's REST paths (`../shared/mission`), plus withdrawing proceeds and following a request (a REST client
 * needs both to finish what the seed's paths start), each answered by the tRPC procedure of the same name. The OpenAPI
 * document is generated from this table and the procedures' zod schemas, so the two cannot drift.
 */
export const restRoutes: readonly RestRoute[] = [
  { method: "post", path: "/auth/register", procedure: "auth.register", input: "json", summary: "Create an account" },
  { method: "post", path: "/auth/login", procedure: "auth.login", input: "json", summary: "Sign in" },
  { method: "post", path: "/auth/logout", procedure: "auth.logout", input: "none", summary: "End this session" },
  { method: "get", path: "/auth/profile", procedure: "auth.profile", input: "none", summary: "The signed-in user" },
  {
    method: "post",
    path: "/certificates/create",
    procedure: "certificates.create",
    input: "form",
    summary: "Issue a certificate (issuers; multipart with a document, or JSON for metadata only)",
  },
  {
    method: "post",
    path: "/certificates/verify-document",
    procedure: "certificates.verifyDocument",
    input: "form",
    summary: "Check a document against the certificates that name it (multipart upload)",
  },
  // `list` before `:id`, so "list" is never read as an id.
  {
    method: "get",
    path: "/certificates/list",
    procedure: "certificates.list",
    input: "query",
    numeric: ["limit"],
    summary: "Certificates, newest first",
  },
  {
    method: "get",
    path: "/certificates/:id",
    procedure: "certificates.get",
    input: "none",
    params: { id: "tokenId" },
    summary: "One certificate by token id",
  },
  {
    method: "put",
    path: "/certificates/:id/invalidate",
    procedure: "certificates.invalidate",
    input: "json",
    params: { id: "tokenId" },
    summary: "Revoke a certificate (its issuer or an admin)",
  },
  {
    method: "post",
    path: "/market/list",
    procedure: "market.list",
    input: "json",
    summary: "Offer one of your certificates for sale",
  },
  {
    method: "get",
    path: "/market/listings",
    procedure: "market.listings",
    input: "query",
    numeric: ["limit", "tokenId"],
    summary: "Listings, filtered and sorted",
  },
  { method: "post", path: "/market/buy", procedure: "market.buy", input: "json", summary: "Buy a listing" },
  {
    method: "post",
    path: "/market/withdraw",
    procedure: "market.withdraw",
    input: "json",
    summary: "Move your sale proceeds in one currency to your wallet",
  },
  {
    method: "delete",
    path: "/market/cancel",
    procedure: "market.cancel",
    input: "json",
    summary: "Withdraw a listing",
  },
  {
    method: "get",
    path: "/account/balance",
    procedure: "account.balance",
    input: "none",
    summary: "ETH and payment-token balances of your wallet",
  },
  {
    method: "post",
    path: "/account/transfer",
    procedure: "account.transfer",
    input: "json",
    summary: "Send ETH or payment tokens to an address or a user",
  },
  {
    method: "get",
    path: "/account/transactions",
    procedure: "account.transactions",
    input: "query",
    numeric: ["limit"],
    summary: "Your transactions, newest first",
  },
  {
    method: "get",
    path: "/tx/status",
    procedure: "tx.status",
    input: "query",
    summary: "Where one of your requests stands (the `requestId` a change answered with)",
  },
];

/** Problems with the request itself (not its fields), with the status to answer. */
class RequestBodyError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 415,
  ) {
    super(message);
  }
}

const isJson = (c: HonoContext) => /^application\/json\b/i.test(c.req.header("content-type") ?? "");
const isMultipart = (c: HonoContext) => /^multipart\/form-data\b/i.test(c.req.header("content-type") ?? "");

/**
 * The JSON body. Other content types are refused: a cross-site HTML form can post `text/plain` that happens to
 * parse as JSON without a CORS preflight, and must not be able to sign a victim into an attacker's account.
 */
async function jsonBody(c: HonoContext): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  if (!isJson(c)) throw new RequestBodyError("Request bodies must be sent as application/json", 415);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RequestBodyError("The request body must be JSON", 400);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RequestBodyError("The request body must be a JSON object", 400);
  }
  return body as Record<string, unknown>;
}

async function formBody(c: HonoContext): Promise<FormData> {
  try {
    return await c.req.formData();
  } catch {
    throw new RequestBodyError("The multipart body could not be read", 400);
  }
}

/** Whole numbers in text (path and query parameters) become numbers; anything else is left for the schema to refuse. */
const numberOrText = (value: string): number | string => (/^-?\d{1,16}$/.test(value) ? Number(value) : value);

async function readInput(route: RestRoute, c: HonoContext): Promise<unknown> {
  const fromPath: Record<string, unknown> = {};
  for (const [param, field] of Object.entries(route.params ?? {}))
    fromPath[field] = numberOrText(c.req.param(param) ?? "");

  switch (route.input) {
    case "none":
      return route.params ? fromPath : undefined;
    case "query": {
      const input: Record<string, unknown> = { ...c.req.query(), ...fromPath };
      for (const name of route.numeric ?? []) {
        const value = input[name];
        if (typeof value === "string") input[name] = numberOrText(value);
      }
      return input;
    }
    case "json":
      return { ...(await jsonBody(c)), ...fromPath };
    case "form":
      if (!isMultipart(c)) return { ...(await jsonBody(c)), ...fromPath };
      if (route.params) throw new Error(`${route.path}: path parameters are not merged into multipart bodies`);
      return formBody(c);
  }
}

/** Calls the procedure at a dotted path on a caller (`caller.certificates.get(input)`). */
function callProcedure(caller: unknown, path: ProcedurePath, input: unknown): Promise<unknown> {
  const procedure = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller);
  return (procedure as (input: unknown) => Promise<unknown>)(input);
}

function errorResponse(c: HonoContext, error: unknown, deps: ApiDeps): Response {
  if (error instanceof RequestBodyError) {
    const code = error.status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "BAD_REQUEST";
    return c.json({ error: { code, message: error.message } }, error.status);
  }
  if (error instanceof TRPCError) {
    const status = getHTTPStatusCodeFromError(error) as ContentfulStatusCode;
    if (error.code === "INTERNAL_SERVER_ERROR") {
      const reqId = requestIdOf(c);
      deps.logger.error({ err: loggableError(error.cause ?? error), reqId, path: c.req.path }, "REST request failed");
      return c.json({ error: { code: error.code, message: `Internal server error (request ${reqId})` } }, 500);
    }
    if (error.cause instanceof ZodError) {
      const message = describeInputError(error.cause);
      return c.json({ error: { code: error.code, message, fieldErrors: z.flattenError(error.cause) } }, status);
    }
    return c.json({ error: { code: error.code, message: error.message } }, status);
  }
  throw error;
}

export function createRestRoutes(deps: ApiDeps): Hono {
  const rest = new Hono();
  for (const route of restRoutes) {
    rest[route.method](route.path, async (c) => {
      const resHeaders = new Headers();
      const ctx = await requestContextOf(deps, c, resHeaders);
      let response: Response;
      try {
        const output = await callProcedure(createCaller(ctx), route.procedure, await readInput(route, c));
        response = c.json(output ?? null);
      } catch (error) {
        response = errorResponse(c, error, deps);
      }
      for (const cookie of resHeaders.getSetCookie()) response.headers.append("set-cookie", cookie);
      const retryAfter = resHeaders.get("retry-after");
      if (retryAfter) response.headers.set("retry-after", retryAfter);
      return response;
    });
  }
  return rest;
}
