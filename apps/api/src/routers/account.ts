import { type Transaction, transactionKinds, transactionStatuses, transactions, users } from "@certchain/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { and, desc, eq, inArray, lt, type SQL } from "drizzle-orm";
import { union } from "drizzle-orm/mysql-core";
import { isAddress } from "viem";
import { z } from "zod";
import { username } from "../auth/fields.ts";
import type { Context } from "../context.ts";
import { cursorInput, DEFAULT_PAGE_SIZE, decodeCursor, pageOutput, pageSize, toPage } from "../pagination.ts";
import { idempotencyKey, requestOutput, submit, walletOf } from "../requests.ts";
import { addressInput, amountInput, amountOutput, currencyInput, isoDate, toIso } from "../schemas.ts";
import { protectedProcedure } from "../trpc.ts";

export const transactionOutput = z.object({
  id: z.number(),
  txHash: z.string(),
  /**
   * Who the certificate or the value moved from and to: an issue goes from the issuer to the recipient, a sale from the
   * buyer to the seller, a revocation from whoever revoked it (the issuer or an admin) to the holder; a call that moved
   * nothing, from its sender to the contract.
   */
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

/** A recipient: an address (0x…), or a username whose custodial wallet receives. */
const recipientInput = z
  .string({ error: "must be an address or a username" })
  .trim()
  .min(1, "is required")
  .max(64, "must be an address or a username")
  // Anything starting with 0x is meant as an address, and must be a whole one.
  .pipe(z.union([addressInput, username], { error: "must be an address (0x + 40 hex digits) or a username" }))
  .refine((to) => !/^0x/i.test(to) || isAddress(to, { strict: false }), "must be an address (0x + 40 hex digits)");

async function recipientAddress(ctx: Context, to: string): Promise<`0x${string}`> {
  if (isAddress(to, { strict: false })) return to.toLowerCase() as `0x${string}`;
  const [user] = await ctx.deps.db
    .select({ walletAddress: users.walletAddress })
    .from(users)
    .where(eq(users.username, to));
  if (!user?.walletAddress) throw new TRPCError({ code: "NOT_FOUND", message: `No user named ${to}` });
  return user.walletAddress;
}

export const accountRouter = {
  /**
   * Sends ETH or payment tokens from the caller's wallet to an address or another user. The balance is checked
   * first, so an impossible transfer is refused at once rather than failing in the relayer.
   */
  transfer: protectedProcedure
    .input(z.object({ to: recipientInput, currency: currencyInput, amount: amountInput, idempotencyKey }).strict())
    .output(requestOutput)
    .mutation(async ({ ctx, input }) => {
      const from = walletOf(ctx.user);
      const to = await recipientAddress(ctx, input.to);
      if (to === from) throw new TRPCError({ code: "BAD_REQUEST", message: "Cannot transfer to your own wallet" });
      const amount = BigInt(input.amount);
      const balances = await ctx.deps.balances.of(from, { fresh: true });
      const available = input.currency === "eth" ? balances.eth : balances.paymentToken;
      if (available < amount) {
        throw new TRPCError({
          code: "PRECONDITION_FAILED",
          message: `Insufficient balance: ${available} base units available, ${amount} asked`,
        });
      }
      return submit(ctx, {
        kind: input.currency === "eth" ? "eth_transfer" : "token_transfer",
        payload: { to, amount: input.amount },
        idempotencyKey: input.idempotencyKey,
        from,
      });
    }),

  /**
   * ETH and payment-token balances of the caller's wallet, from the chain, briefly cached (CACHE_BALANCE_TTL_MS,
   * dropped when the indexer records a transaction of the wallet; see `createBalanceReader`).
   */
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
      const filters: Array<SQL | undefined> = [];
      if (input.kind) filters.push(eq(transactions.kind, input.kind));
      if (input.status) filters.push(eq(transactions.status, input.status));
      if (input.cursor) {
        const [beforeId] = decodeCursor(input.cursor, z.tuple([z.number().int()]));
        filters.push(lt(transactions.id, beforeId));
      }
      // One page from each side, each walking its own (address, id) index newest first, then merged: an OR over both
      // columns would read and sort every row of the user's before the LIMIT. UNION drops a row found on both sides.
      const side = (column: typeof transactions.fromAddress | typeof transactions.toAddress) =>
        ctx.deps.db
          .select()
          .from(transactions)
          .where(and(inArray(column, addresses), ...filters))
          .orderBy(desc(transactions.id))
          .limit(input.limit + 1);
      const rows = await union(side(transactions.fromAddress), side(transactions.toAddress))
        .orderBy(desc(transactions.id))
        .limit(input.limit + 1);
      return toPage(rows, input.limit, toTransactionOutput, (row) => [row.id]);
    }),
} satisfies TRPCRouterRecord;
