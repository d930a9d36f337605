import { type TxRequestStatus, txRequestStatuses, txRequests } from "@certchain/db";
import { FINAL_TX_REQUEST_STATUSES, type TxStatusEvent } from "@certchain/queue";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../context.ts";
import { isoDate, toIso } from "../schemas.ts";
import { protectedProcedure } from "../trpc.ts";

/**
 * How long a status stream waits for an event before re-reading its request: pub/sub is fire-and-forget, so an event
 * published while the subscriber reconnected, or never published by a relayer that died between its write and its
 * publish, is made up for by the row. It also bounds how long a stream can miss its final status.
 */
const RESYNC_INTERVAL_MS = 15_000;

const finalStatuses: ReadonlySet<TxRequestStatus> = new Set(FINAL_TX_REQUEST_STATUSES);

export const txStatusOutput = z.object({
  requestId: z.string(),
  kind: z.string(),
  status: z.enum(txRequestStatuses),
  txHash: z.string().nullable(),
  /** A decoded custom error (`NotIssuer`), `reverted`, `insufficient_funds`, … when `failed`. */
  errorCode: z.string().nullable(),
  blockNumber: z.number().nullable(),
  createdAt: isoDate,
  updatedAt: isoDate,
});

/** One step of `tx.onStatus`: what the relayer publishes at every change. */
export type TxStatusUpdate = Pick<TxStatusEvent, "requestId" | "status" | "errorCode"> & { txHash: string | null };

const requestIdInput = z.object({ requestId: z.uuid("must be a request id") }).strict();

/** The caller's request. Someone else's is NOT_FOUND, as if it did not exist. */
async function loadOwnRequest(ctx: Context & { user: { id: number } }, requestId: string) {
  const [row] = await ctx.deps.db.select().from(txRequests).where(eq(txRequests.id, requestId));
  if (!row || row.userId !== ctx.user.id)
    throw new TRPCError({ code: "NOT_FOUND", message: `No request ${requestId}` });
  return row;
}

/** An explicit pick, so the stream can never carry a column (raw bytes, payload) by accident. */
const toUpdate = (source: TxStatusUpdate): TxStatusUpdate => ({
  requestId: source.requestId,
  status: source.status,
  txHash: source.txHash,
  errorCode: source.errorCode,
});

async function readUpdate(ctx: Parameters<typeof loadOwnRequest>[0], requestId: string): Promise<TxStatusUpdate> {
  const row = await loadOwnRequest(ctx, requestId);
  return toUpdate({ ...row, requestId: row.id });
}

const sameUpdate = (a: TxStatusUpdate, b: TxStatusUpdate) =>
  a.status === b.status && a.txHash === b.txHash && a.errorCode === b.errorCode;

export const txRouter = {
  /** Where one of the caller's requests stands. */
  status: protectedProcedure
    .input(requestIdInput)
    .output(txStatusOutput)
    .query(async ({ ctx, input }) => {
      const row = await loadOwnRequest(ctx, input.requestId);
      return {
        requestId: row.id,
        kind: row.kind,
        status: row.status,
        txHash: row.txHash,
        errorCode: row.errorCode,
        blockNumber: row.blockNumber,
        createdAt: toIso(row.createdAt) ?? "",
        updatedAt: toIso(row.updatedAt) ?? "",
      };
    }),

  /**
   * Follows one of the caller's requests over SSE: first where it stands, then every change the relayer publishes,
   * ending after a final status (`confirmed`, `failed`, `replaced`, `cancelled`). A reconnecting client simply starts
   * again from the current status. A change racing the first read may be repeated; the last update is always current.
   */
  onStatus: protectedProcedure.input(requestIdInput).subscription(async function* ({ ctx, input, signal }) {
    const aborted = signal ?? new AbortController().signal;
    // Listen before reading the row, so a change made in between cannot fall between the two.
    const listener = await ctx.deps.txStatus.listen(input.requestId);
    try {
      let current = await readUpdate(ctx, input.requestId);
      yield current;
      while (!finalStatuses.has(current.status)) {
        // Waiting stops when the client leaves, so the `finally` below runs at once rather than at the next event.
        const event = await listener.next(RESYNC_INTERVAL_MS, aborted);
        if (aborted.aborted) return;
        const next = event ? toUpdate(event) : await readUpdate(ctx, input.requestId);
        if (sameUpdate(next, current)) continue;
        current = next;
        yield current;
      }
    } finally {
      listener.close();
    }
  }),
} satisfies TRPCRouterRecord;
