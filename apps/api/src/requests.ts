import type { SubmitTxRequest } from "@certchain/queue";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import type { Context } from "./context.ts";

/**
 * Every procedure that changes the chain takes an idempotency key: retrying with the same key returns the same request
 * and never sends a second transaction. Clients make one per user action (a UUID is fine).
 */
export const idempotencyKey = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(128, "must be at most 128 characters")
  .regex(/^[A-Za-z0-9_.:-]+$/, "may contain only letters, digits, '_', '.', ':' and '-'");

export const requestOutput = z.object({ requestId: z.string() });

/** The user's custodial wallet, which signs what they ask for. */
export function walletOf(user: { walletAddress: `0x${string}` | null }): `0x${string}` {
  if (!user.walletAddress) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "This account has no wallet" });
  return user.walletAddress;
}

/** Records the request and queues it; the relayer does the rest. */
export async function submit(ctx: Context, request: SubmitTxRequest): Promise<{ requestId: string }> {
  const { requestId } = await ctx.deps.producer.submit(request);
  return { requestId };
}
