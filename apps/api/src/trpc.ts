import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError, z } from "zod";
import { apiKeyScopeRefusal } from "./auth/api-key-scopes.ts";
import type { Context } from "./context.ts";
import { toUnavailableError } from "./http/unavailable.ts";

/**
 * tRPC is initialised here once; this file exports only the procedure builders the API allows. Each builder narrows
 * `ctx` so a procedure's code can rely on what its builder checked.
 */
/** A failed input check in one line, each problem named by its field: `price: must be greater than 0; …`. */
export function describeInputError(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "input"}: ${issue.message}`).join("; ");
}

const t = initTRPC.context<Context>().create({
  // Never ship stack traces to clients, whatever the environment.
  isDev: false,
  // Subscriptions (SSE): a ping every 10 s lets a proxy keep the stream open and lets us notice a client that vanished
  // without closing (the write fails, the stream ends); a client that hears nothing for 25 s reconnects.
  sse: { ping: { enabled: true, intervalMs: 10_000 }, client: { reconnectAfterInactivityMs: 25_000 } },
  errorFormatter({ shape, error, ctx }) {
    // An internal error's message is its cause's (a SQL statement with its parameters, an RPC URL with its key):
    // clients get a fixed sentence, the details go to the error log.
    if (error.code === "INTERNAL_SERVER_ERROR") {
      const requestId = ctx?.meta.requestId;
      return {
        ...shape,
        message: requestId ? `Internal server error (request ${requestId})` : "Internal server error",
      };
    }
    if (error.code === "BAD_REQUEST" && error.cause instanceof ZodError) {
      return {
        ...shape,
        message: describeInputError(error.cause),
        data: { ...shape.data, fieldErrors: z.flattenError(error.cause) },
      };
    }
    return { ...shape, data: { ...shape.data, fieldErrors: null } };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Anyone, signed in or not. A request signed with an API key may call only what the key's scopes allow. A database or
 * Redis that is down makes any procedure's answer 503 SERVICE_UNAVAILABLE, not a 500. (One middleware for both: each
 * middleware level costs every call a few object copies inside tRPC.)
 */
export const publicProcedure = t.procedure.use(async ({ ctx, path, next }) => {
  const refusal = ctx.apiKey && apiKeyScopeRefusal(ctx.apiKey.keyId, ctx.apiKey.scopes, path);
  if (refusal) throw new TRPCError({ code: "FORBIDDEN", message: refusal });
  const result = await next();
  if (!result.ok) {
    const unavailable = toUnavailableError(result.error, ctx.resHeaders, ctx.deps.logger);
    if (unavailable) throw unavailable;
  }
  return result;
});

/** A signed-in user, by session or by a request signed with their API key; `ctx.user` is set. */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  const user = ctx.session?.user ?? ctx.apiKey?.user;
  if (!user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first" });
  return next({ ctx: { ...ctx, user } });
});

/** A signed-in user with the issuer role (granted by an admin, mirrored on chain as ISSUER_ROLE). */
export const issuerProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== "issuer") throw new TRPCError({ code: "FORBIDDEN", message: "Only issuers can do this" });
  return next();
});

/** A signed-in admin. */
export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== "admin") throw new TRPCError({ code: "FORBIDDEN", message: "Only admins can do this" });
  return next();
});
