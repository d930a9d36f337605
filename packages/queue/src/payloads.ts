import type { TxRequestKind } from "@certchain/db";
import { z } from "zod";

/**
 * Job payloads, one zod schema per kind, as stored in `tx_requests.payload`. Amounts and ids are decimal strings
 * (JSON has no bigint); addresses are lowercase. Payloads name what to do, never who signs: the sender is the
 * request's `from_address`, and keys are never part of a payload.
 */

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address")
  .transform((value) => value.toLowerCase() as `0x${string}`);
const uint = z.string().regex(/^(0|[1-9][0-9]{0,76})$/, "must be a whole number as a decimal string");
const positiveUint = uint.refine((value) => value !== "0", "must be greater than 0");

export const txRequestPayloads = {
  issue: z.object({ to: address, cid: z.string().min(1).max(200), expiresAt: uint }),
  revoke: z.object({ tokenId: positiveUint, reason: z.string().max(500) }),
  grant_issuer: z.object({ account: address }),
  revoke_issuer: z.object({ account: address }),
  /** Lets the Marketplace move a certificate (to list it) or spend the sender's payment tokens (to buy with them). */
  approve: z.discriminatedUnion("asset", [
    z.object({ asset: z.literal("certificate"), tokenId: positiveUint }),
    z.object({ asset: z.literal("payment_token"), amount: uint }),
  ]),
  list: z.object({ tokenId: positiveUint, currency: address, price: positiveUint }),
  cancel: z.object({ listingId: positiveUint }),
  /** `currency` decides the ETH sent with the call: the price for ETH listings, nothing for token listings. */
  buy: z.object({ listingId: positiveUint, expectedPrice: positiveUint, currency: address }),
  withdraw: z.object({ currency: address }),
  eth_transfer: z.object({ to: address, amount: positiveUint }),
  token_transfer: z.object({ to: address, amount: positiveUint }),
  /** A zero-value self-transfer that fills a nonce gap. */
  noop: z.object({}),
} satisfies Record<TxRequestKind, z.ZodType>;

export type TxRequestPayloads = { [K in TxRequestKind]: z.output<(typeof txRequestPayloads)[K]> };

/** A request as the API submits it: a kind and its payload, checked together. */
export type TxRequestInput = {
  [K in TxRequestKind]: { kind: K; payload: z.input<(typeof txRequestPayloads)[K]> };
}[TxRequestKind];

/** A validated request; the payload type follows the kind. */
export type ParsedTxRequest = { [K in TxRequestKind]: { kind: K; payload: TxRequestPayloads[K] } }[TxRequestKind];

/** Validates a payload for its kind; throws a `ZodError` naming the field otherwise. */
export function parseTxRequestPayload(kind: TxRequestKind, payload: unknown): ParsedTxRequest {
  return { kind, payload: txRequestPayloads[kind].parse(payload) } as ParsedTxRequest;
}
