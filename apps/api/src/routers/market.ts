import { certificateRegistryAbi, marketplaceAbi, paymentTokenAbi } from "@certchain/contracts";
import { certificates, type Listing, listingStatuses, listings } from "@certchain/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { and, asc, desc, eq, gt, lt, or, type SQL } from "drizzle-orm";
import { type Address, zeroAddress } from "viem";
import { z } from "zod";
import type { Context } from "../context.ts";
import { cursorInput, decodeCursor, pageOutput, pageSize, toPage } from "../pagination.ts";
import { idempotencyKey, requestOutput, submit, submitAfter, walletOf } from "../requests.ts";
import { addressInput, amountInput, amountOutput, chainIdInput, currencyInput, isoDate, toIso } from "../schemas.ts";
import { protectedProcedure, publicProcedure } from "../trpc.ts";

export const listingOutput = z.object({
  listingId: z.number(),
  tokenId: z.number(),
  seller: z.string(),
  /** The zero address for ETH, else the ERC-20's address. */
  currency: z.string(),
  price: amountOutput,
  status: z.enum(listingStatuses),
  buyer: z.string().nullable(),
  fee: amountOutput.nullable(),
  listedAt: isoDate,
  closedAt: isoDate.nullable(),
});

function toListingOutput(row: Listing): z.infer<typeof listingOutput> {
  return {
    listingId: row.listingId,
    tokenId: row.tokenId,
    seller: row.sellerAddress,
    currency: row.currencyAddress,
    price: row.price.toString(),
    status: row.status,
    buyer: row.buyerAddress,
    fee: row.fee?.toString() ?? null,
    listedAt: row.listedAt.toISOString(),
    closedAt: toIso(row.closedAt),
  };
}

const sorts = ["newest", "oldest", "price_asc", "price_desc"] as const;

/** After the cursor's (price, listing id) in price order; ties broken by listing id in the same direction. */
function afterPrice(direction: "asc" | "desc", price: bigint, listingId: number): SQL | undefined {
  const beyond = direction === "asc" ? gt : lt;
  return or(beyond(listings.price, price), and(eq(listings.price, price), beyond(listings.listingId, listingId)));
}

/** The on-chain currency address: zero for ETH, else the payment token's. */
const currencyAddress = (ctx: Context, currency: z.infer<typeof currencyInput>): Address =>
  currency === "eth" ? zeroAddress : (ctx.deps.chain.contracts.PaymentToken.address.toLowerCase() as Address);

async function activeListing(ctx: Context, listingId: number): Promise<Listing> {
  const [row] = await ctx.deps.db.select().from(listings).where(eq(listings.listingId, listingId));
  if (!row) throw new TRPCError({ code: "NOT_FOUND", message: `No listing ${listingId}` });
  if (row.status !== "active") {
    throw new TRPCError({ code: "CONFLICT", message: `Listing ${listingId} is ${row.status}, not active` });
  }
  return row;
}

/** True when the Marketplace may already move `tokenId` for `owner` (this token's approval, or an operator grant). */
async function marketplaceApproved(ctx: Context, owner: Address, tokenId: number): Promise<boolean> {
  const registry = { address: ctx.deps.chain.contracts.CertificateRegistry.address, abi: certificateRegistryAbi };
  const marketplace = ctx.deps.chain.contracts.Marketplace.address;
  const [approved, forAll] = await Promise.all([
    ctx.deps.chain.client.readContract({ ...registry, functionName: "getApproved", args: [BigInt(tokenId)] }),
    ctx.deps.chain.client.readContract({ ...registry, functionName: "isApprovedForAll", args: [owner, marketplace] }),
  ]);
  return forAll || approved.toLowerCase() === marketplace.toLowerCase();
}

const listingsInput = z
  .object({
    status: z.enum(listingStatuses).default("active"),
    currency: addressInput.optional(),
    seller: addressInput.optional(),
    tokenId: chainIdInput.optional(),
    sort: z.enum(sorts).default("newest"),
    limit: pageSize,
    cursor: cursorInput,
  })
  .strict();

const mutationOutput = requestOutput.extend({
  /** The approval this request waits for, when one was needed; it is the caller's request too. */
  dependsOn: z.string().nullable(),
});

export const marketRouter = {
  /**
   * Offers one of the caller's certificates for sale. The Marketplace must be approved for the token first: when it
   * is not, an approval is queued and the listing waits for it to be mined.
   */
  list: protectedProcedure
    .input(z.object({ tokenId: chainIdInput, price: amountInput, currency: currencyInput, idempotencyKey }).strict())
    .output(mutationOutput)
    .mutation(async ({ ctx, input }) => {
      const wallet = walletOf(ctx.user);
      const [certificate] = await ctx.deps.db
        .select()
        .from(certificates)
        .where(eq(certificates.tokenId, input.tokenId));
      // Someone else's certificate is as unknown as a missing one to this caller: nothing to list.
      if (!certificate || certificate.ownerAddress !== wallet) {
        throw new TRPCError({ code: "NOT_FOUND", message: `You hold no certificate with token id ${input.tokenId}` });
      }
      if (certificate.status !== "valid") {
        throw new TRPCError({ code: "CONFLICT", message: "A revoked certificate cannot be sold" });
      }
      const [existing] = await ctx.deps.db
        .select({ listingId: listings.listingId })
        .from(listings)
        .where(and(eq(listings.tokenId, input.tokenId), eq(listings.status, "active")));
      if (existing) {
        throw new TRPCError({
          code: "CONFLICT",
          message: `Token ${input.tokenId} is already listed (listing ${existing.listingId})`,
        });
      }
      const list = {
        kind: "list" as const,
        payload: { tokenId: String(input.tokenId), currency: currencyAddress(ctx, input.currency), price: input.price },
        idempotencyKey: input.idempotencyKey,
        from: wallet,
      };
      if (await marketplaceApproved(ctx, wallet, input.tokenId))
        return { ...(await submit(ctx, list)), dependsOn: null };
      return submitAfter(
        ctx,
        { kind: "approve", payload: { asset: "certificate", tokenId: String(input.tokenId) }, from: wallet },
        list,
      );
    }),

  /**
   * Buys a listing at the price the buyer saw: if the seller changed it since, the purchase is refused here (and on
   * chain, by `expectedPrice`). Token-priced listings queue an allowance first when the current one is too small.
   */
  buy: protectedProcedure
    .input(z.object({ listingId: chainIdInput, expectedPrice: amountInput, idempotencyKey }).strict())
    .output(mutationOutput)
    .mutation(async ({ ctx, input }) => {
      const wallet = walletOf(ctx.user);
      const listing = await activeListing(ctx, input.listingId);
      if (listing.sellerAddress === wallet) {
        throw new TRPCError({ code: "CONFLICT", message: "This is your own listing" });
      }
      if (listing.price !== BigInt(input.expectedPrice)) {
        throw new TRPCError({
          code: "CONFLICT",
          message: `The price is now ${listing.price} base units, not ${input.expectedPrice}`,
        });
      }
      const paysEth = listing.currencyAddress === zeroAddress;
      const balances = await ctx.deps.balances.of(wallet, { fresh: true });
      if ((paysEth ? balances.eth : balances.paymentToken) < listing.price) {
        throw new TRPCError({
          code: "PRECONDITION_FAILED",
          message: `Your wallet holds less than the price of ${listing.price} base units`,
        });
      }
      const buy = {
        kind: "buy" as const,
        payload: {
          listingId: String(input.listingId),
          expectedPrice: input.expectedPrice,
          currency: listing.currencyAddress,
        },
        idempotencyKey: input.idempotencyKey,
        from: wallet,
      };
      if (paysEth) return { ...(await submit(ctx, buy)), dependsOn: null };
      const allowance = await ctx.deps.chain.client.readContract({
        address: ctx.deps.chain.contracts.PaymentToken.address,
        abi: paymentTokenAbi,
        functionName: "allowance",
        args: [wallet, ctx.deps.chain.contracts.Marketplace.address],
      });
      if (allowance >= listing.price) return { ...(await submit(ctx, buy)), dependsOn: null };
      return submitAfter(
        ctx,
        { kind: "approve", payload: { asset: "payment_token", amount: input.expectedPrice }, from: wallet },
        buy,
      );
    }),

  /**
   * Pays out what the caller's sales earned: the Marketplace keeps sale proceeds until the seller withdraws them
   * (pull payments), per currency.
   */
  withdraw: protectedProcedure
    .input(z.object({ currency: currencyInput, idempotencyKey }).strict())
    .output(requestOutput.extend({ amount: amountOutput }))
    .mutation(async ({ ctx, input }) => {
      const wallet = walletOf(ctx.user);
      const currency = currencyAddress(ctx, input.currency);
      const amount = await ctx.deps.chain.client.readContract({
        address: ctx.deps.chain.contracts.Marketplace.address,
        abi: marketplaceAbi,
        functionName: "proceeds",
        args: [wallet, currency],
      });
      if (amount === 0n) {
        throw new TRPCError({
          code: "PRECONDITION_FAILED",
          message: `You have no ${input.currency} proceeds to withdraw`,
        });
      }
      const { requestId } = await submit(ctx, {
        kind: "withdraw",
        payload: { currency },
        idempotencyKey: input.idempotencyKey,
        from: wallet,
      });
      return { requestId, amount: amount.toString() };
    }),

  /** Withdraws one of the caller's active listings. */
  cancel: protectedProcedure
    .input(z.object({ listingId: chainIdInput, idempotencyKey }).strict())
    .output(requestOutput)
    .mutation(async ({ ctx, input }) => {
      const wallet = walletOf(ctx.user);
      const [row] = await ctx.deps.db.select().from(listings).where(eq(listings.listingId, input.listingId));
      if (!row || row.sellerAddress !== wallet) {
        throw new TRPCError({ code: "NOT_FOUND", message: `You have no listing ${input.listingId}` });
      }
      if (row.status !== "active") {
        throw new TRPCError({ code: "CONFLICT", message: `Listing ${input.listingId} is ${row.status}, not active` });
      }
      return submit(ctx, {
        kind: "cancel",
        payload: { listingId: String(input.listingId) },
        idempotencyKey: input.idempotencyKey,
        from: wallet,
      });
    }),

  /**
   * Listings, active ones by default, sorted by time or price; each sort walks an index. First pages (no cursor) are
   * served from the read cache (CACHE_TTL_MS; every listings change the indexer commits drops them all).
   */
  listings: publicProcedure
    .input(listingsInput)
    .output(pageOutput(listingOutput))
    .query(({ ctx, input }) => {
      if (input.cursor) return listingsPage(ctx, input);
      const { status, currency, seller, tokenId, sort, limit } = input;
      const key = JSON.stringify([status, currency ?? null, seller ?? null, tokenId ?? null, sort, limit]);
      return ctx.deps.cache.listings.get(key, () => listingsPage(ctx, input));
    }),
} satisfies TRPCRouterRecord;

/** One page of `market.listings`, from the database. */
async function listingsPage(ctx: Context, input: z.infer<typeof listingsInput>) {
  const filters: Array<SQL | undefined> = [eq(listings.status, input.status)];
  if (input.currency) filters.push(eq(listings.currencyAddress, input.currency));
  if (input.seller) filters.push(eq(listings.sellerAddress, input.seller));
  if (input.tokenId) filters.push(eq(listings.tokenId, input.tokenId));

  const byPrice = input.sort === "price_asc" || input.sort === "price_desc";
  const direction = input.sort === "price_asc" || input.sort === "oldest" ? "asc" : "desc";
  const order = direction === "asc" ? asc : desc;
  if (input.cursor && byPrice) {
    const [price, listingId] = decodeCursor(input.cursor, z.tuple([z.string().regex(/^\d+$/), z.number().int()]));
    filters.push(afterPrice(direction, BigInt(price), listingId));
  } else if (input.cursor) {
    const [listingId] = decodeCursor(input.cursor, z.tuple([z.number().int()]));
    filters.push((direction === "asc" ? gt : lt)(listings.listingId, listingId));
  }

  const rows = await ctx.deps.db
    .select()
    .from(listings)
    .where(and(...filters))
    .orderBy(...(byPrice ? [order(listings.price), order(listings.listingId)] : [order(listings.listingId)]))
    .limit(input.limit + 1);
  return toPage(rows, input.limit, toListingOutput, (row) =>
    byPrice ? [row.price.toString(), row.listingId] : [row.listingId],
  );
}
