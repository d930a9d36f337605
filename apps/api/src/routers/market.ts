import { type Listing, listingStatuses, listings } from "@certchain/db";
import type { TRPCRouterRecord } from "@trpc/server";
import { and, asc, desc, eq, gt, lt, or, type SQL } from "drizzle-orm";
import { z } from "zod";
import { cursorInput, decodeCursor, pageOutput, pageSize, toPage } from "../pagination.ts";
import { addressInput, amountOutput, chainIdInput, isoDate, toIso } from "../schemas.ts";
import { publicProcedure } from "../trpc.ts";

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

export const marketRouter = {
  /** Listings, active ones by default, sorted by time or price; each sort walks an index. */
  listings: publicProcedure
    .input(
      z
        .object({
          status: z.enum(listingStatuses).default("active"),
          currency: addressInput.optional(),
          seller: addressInput.optional(),
          tokenId: chainIdInput.optional(),
          sort: z.enum(sorts).default("newest"),
          limit: pageSize,
          cursor: cursorInput,
        })
        .strict(),
    )
    .output(pageOutput(listingOutput))
    .query(async ({ ctx, input }) => {
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
    }),
} satisfies TRPCRouterRecord;
