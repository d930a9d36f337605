import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError, z } from "zod";
import type { Context } from "./context.ts";

/**
 * tRPC is initialised here once; this file exports only the procedure builders the API allows. Each builder narrows
 * `ctx` so a procedure's code can rely on what its builder checked.
 */
const t = initTRPC.context<Context>().create({
  // Never ship stack traces to clients, whatever the environment.
  isDev: false,
  errorFormatter({ shape, error }) {
    // An internal error's message is its cause's (a SQL statement with its parameters, an RPC URL with its key):
    // clients get a fixed sentence, the details go to the error log.
    if (error.code === "INTERNAL_SERVER_ERROR") return { ...shape, message: "Internal server error" };
    const fieldErrors =
      error.code === "BAD_REQUEST" && error.cause instanceof ZodError ? z.flattenError(error.cause) : null;
    return { ...shape, data: { ...shape.data, fieldErrors } };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Anyone, signed in or not. */
export const publicProcedure = t.procedure;

/** A signed-in user; `ctx.user` is set. */
export const protectedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first" });
  return next({ ctx: { ...ctx, session: ctx.session, user: ctx.session.user } });
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
