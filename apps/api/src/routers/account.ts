import { type Transaction, transactionKinds, transactionStatuses, transactions } from "@certchain/db";
import type { TRPCRouterRecord } from "@trpc/server";
import { and, desc, eq, inArray, lt, or, type SQL } from "drizzle-orm";
import { z } from "zod";
import { cursorInput, DEFAULT_PAGE_SIZE, decodeCursor, pageOutput, pageSize, toPage } from "../pagination.ts";
import { walletOf } from "../requests.ts";
import { amountOutput, isoDate, toIso } from "../schemas.ts";
import { protectedProcedure } from "../trpc.ts";

export const transactionOutput = z.object({
  id: z.number(),
  txHash: z.string(),
  from: z.string(),
  to: z.string(),
  kind: z.enum(transactionKinds),
  status: z.enum(transactionStatuses),
  amount: amountOutput.nullable(),
  /** What `amount` is counted in: the zero address for ETH, else the ERC-20's address. */
  currency: z.string().nullable(),
  tokenId: z.number().nullable(),
  blockNumber: z.number().nullable(),
  blockTimestamp: isoDate.nullable(),
  failureReason: z.string().nullable(),
  createdAt: isoDate.nullable(),
});

function toTransactionOutput(row: Transaction): z.infer<typeof transactionOutput> {
  return {
    id: row.id,
    txHash: row.txHash,
    from: row.fromAddress,
    to: row.toAddress,
    kind: row.kind,
    status: row.status,
    amount: row.amount?.toString() ?? null,
    currency: row.currencyAddress,
    tokenId: row.tokenId,
    blockNumber: row.blockNumber,
    blockTimestamp: toIso(row.blockTimestamp),
    failureReason: row.failureReason,
    createdAt: toIso(row.createdAt),
  };
}

export const accountRouter = {
  /** ETH and payment-token balances of the caller's wallet, from the chain (see `createBalanceReader`). */
  balance: protectedProcedure
    .output(
      z.object({ address: z.string(), eth: amountOutput, paymentToken: amountOutput, paymentTokenAddress: z.string() }),
    )
    .query(async ({ ctx }) => {
      const address = walletOf(ctx.user);
      const { eth, paymentToken } = await ctx.deps.balances.of(address);
      return {
        address,
        eth: eth.toString(),
        paymentToken: paymentToken.toString(),
        paymentTokenAddress: ctx.deps.chain.contracts.PaymentToken.address.toLowerCase(),
      };
    }),

  /** The caller's transactions (sent from or to any of their wallets), newest first. */
  transactions: protectedProcedure
    .input(
      z
        .object({
          kind: z.enum(transactionKinds).optional(),
          status: z.enum(transactionStatuses).optional(),
          limit: pageSize,
          cursor: cursorInput,
        })
        .strict()
        .default({ limit: DEFAULT_PAGE_SIZE }),
    )
    .output(pageOutput(transactionOutput))
    .query(async ({ ctx, input }) => {
      const addresses = [ctx.user.walletAddress, ctx.user.externalAddress].filter(
        (a): a is `0x${string}` => a !== null,
      );
      if (addresses.length === 0) return { items: [], nextCursor: null };
      const filters: Array<SQL | undefined> = [
        or(inArray(transactions.fromAddress, addresses), inArray(transactions.toAddress, addresses)),
      ];
      if (input.kind) filters.push(eq(transactions.kind, input.kind));
      if (input.status) filters.push(eq(transactions.status, input.status));
      if (input.cursor) {
        const [beforeId] = decodeCursor(input.cursor, z.tuple([z.number().int()]));
        filters.push(lt(transactions.id, beforeId));
      }
      const rows = await ctx.deps.db
        .select()
        .from(transactions)
        .where(and(...filters))
        .orderBy(desc(transactions.id))
        .limit(input.limit + 1);
      return toPage(rows, input.limit, toTransactionOutput, (row) => [row.id]);
    }),
} satisfies TRPCRouterRecord;
