import type { SubmitTxRequest } from "@certchain/queue";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import type { Context } from "./context.ts";
import { ServiceUnavailableError } from "./http/unavailable.ts";

/** Longest client key: derived keys (`<key>:approve`) must still fit the 128-character column. */
const MAX_IDEMPOTENCY_KEY = 100;

/**
 * Every procedure that changes the chain takes an idempotency key, as an input field or an `Idempotency-Key` header:
 * retrying with the same key returns the same request and never sends a second transaction. Clients make one per
 * user action (a UUID is fine).
 */
export const idempotencyKey = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(MAX_IDEMPOTENCY_KEY, `must be at most ${MAX_IDEMPOTENCY_KEY} characters`)
  .regex(/^[A-Za-z0-9_.:-]+$/, "may contain only letters, digits, '_', '.', ':' and '-'")
  .optional();

export const requestOutput = z.object({ requestId: z.string() });

/** The user's custodial wallet, which signs what they ask for. */
export function walletOf(user: { walletAddress: `0x${string}` | null }): `0x${string}` {
  if (!user.walletAddress) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "This account has no wallet" });
  return user.walletAddress;
}

/** The key from the input, else from the `Idempotency-Key` header (checked like the field); one of them is required. */
export function resolveIdempotencyKey(ctx: Context, fromInput: string | undefined): string {
  if (fromInput !== undefined) return fromInput;
  const header = ctx.meta.idempotencyKey;
  if (header === undefined) {
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: "idempotencyKey is required (as an input field or an Idempotency-Key header)",
    });
  }
  const checked = idempotencyKey.safeParse(header);
  if (!checked.success) {
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: `Idempotency-Key header ${checked.error.issues[0]?.message ?? "is invalid"}`,
    });
  }
  return header;
}

/** Connection states in which ioredis has lost Redis (it is reconnecting, or has given up). */
const REDIS_DOWN: ReadonlySet<string> = new Set(["close", "reconnecting", "end"]);

type Submission = Omit<SubmitTxRequest, "idempotencyKey" | "userId"> & { idempotencyKey: string | undefined };

/**
 * Records the request and queues it; the relayer does the rest. `created` is false when the key had been used: the
 * answer is then the earlier request.
 */
export async function submit(
  ctx: Context & { user: { id: number } },
  request: Submission,
): Promise<{ requestId: string; created: boolean }> {
  // While Redis is down the job could not be added: refuse before writing the row, so a 503 means nothing was recorded.
  // (A failure between the two still leaves a durable row, which the relayer's orphan sweep queues.)
  if (REDIS_DOWN.has(ctx.deps.redis.status)) {
    throw new ServiceUnavailableError("redis", "Transactions cannot be queued right now; try again in a few seconds");
  }
  return ctx.deps.producer.submit({
    ...request,
    userId: ctx.user.id,
    idempotencyKey: resolveIdempotencyKey(ctx, request.idempotencyKey),
  } as SubmitTxRequest);
}

/**
 * Two requests where the second needs the first mined (an approval, then the call that spends it). Each has its own
 * key derived from the client's, so a retry finds both; the relayer holds the second until the first is mined.
 */
export async function submitAfter(
  ctx: Context & { user: { id: number } },
  first: Omit<Submission, "idempotencyKey">,
  second: Submission,
): Promise<{ requestId: string; dependsOn: string }> {
  const key = resolveIdempotencyKey(ctx, second.idempotencyKey);
  const prerequisite = await submit(ctx, { ...first, idempotencyKey: `${key}:${first.kind}` } as Submission);
  const { requestId } = await submit(ctx, {
    ...second,
    idempotencyKey: key,
    dependsOn: prerequisite.requestId,
  } as Submission);
  return { requestId, dependsOn: prerequisite.requestId };
}
