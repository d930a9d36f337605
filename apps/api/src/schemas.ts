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

const MAX_UINT256 = 2n ** 256n - 1n;

/** An amount in base units (wei, or the token's smallest unit) as a decimal string: JSON numbers cannot hold it. */
export const amountInput = z
  .string({ error: "must be a decimal string of base units (wei)" })
  // `abort`: zod 4 runs later checks after a failed one, and BigInt() of a non-integer would throw a raw TypeError.
  .regex(/^(0|[1-9]\d{0,77})$/, {
    error: "must be a whole number of base units (wei) written as a decimal string",
    abort: true,
  })
  .refine((value) => BigInt(value) > 0n, "must be greater than 0")
  .refine((value) => BigInt(value) <= MAX_UINT256, "is larger than a uint256");

/** What a price or transfer is paid in: ETH, or the platform's ERC-20 payment token. */
export const currencyInput = z.enum(["eth", "token"], { error: "must be 'eth' or 'token'" });
