import { isAddress } from "viem";
import { z } from "zod";

/** An EVM address in any case; stored and compared lowercase. */
export const addressInput = z
  .string()
  .refine((value) => isAddress(value, { strict: false }), "must be an address (0x followed by 40 hex digits)")
  .transform((value) => value.toLowerCase() as `0x${string}`);

/** A token or listing id as the contracts number them: a positive integer. */
export const chainIdInput = z
  .number({ error: "must be a number" })
  .int("must be a whole number")
  .positive("must be at least 1")
  .max(Number.MAX_SAFE_INTEGER, "is too large");

/** Amounts leave the API as decimal strings of base units (wei), since JSON numbers cannot hold them exactly. */
export const amountOutput = z.string().regex(/^\d+$/);

export const isoDate = z.string();
export const toIso = (date: Date | null | undefined): string | null => date?.toISOString() ?? null;
