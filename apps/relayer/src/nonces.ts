import { type Db, newTxRequestId, txRequests, walletNonces } from "@certchain/db";
import { and, asc, eq, gte, lt, lte, sql } from "drizzle-orm";
import type { Address } from "viem";

/**
 * Nonces live in MySQL: `wallet_nonces.next_nonce` is handed out under that row's lock (`SELECT … FOR UPDATE`) in the
 * same transaction that writes the nonce into `tx_requests`, so across any number of relayer processes a nonce is
 * never given twice (UNIQUE(from_address, nonce) backs this up) and never given without its request: a crash either
 * keeps both or neither. viem's nonce manager is not used; it is per process.
 *
 * Order: reserving for a request also reserves, in id (= submission) order, for every earlier queued request of the
 * wallet that has none yet, so one wallet's requests take consecutive nonces in the order they were submitted even
 * when several workers race. An earlier request that then fails its simulation cancels its nonce with a no-op rather
 * than leaving a gap.
 */

/** At most this many gap fillers per repair, so a corrupted counter cannot flood the chain. */
const MAX_GAP_FILL = 100;

export type NonceReservations = {
  /** The request's nonce, reserving it (and earlier requests' nonces) if it has none. */
  reserve(requestId: string, wallet: Address): Promise<number>;
  /**
   * Re-aligns a wallet with the chain: raises `next_nonce` to the chain's pending nonce if something outside the
   * relayer used nonces, and creates a `noop` request for every nonce in [chain latest, next) that no request owns.
   * Returns the ids of the fillers to enqueue.
   */
  repair(wallet: Address, chainNonce: { latest: number; pending: number }): Promise<string[]>;
};

export function createNonceReservations(db: Db): NonceReservations {
  const lockWallet = async (tx: Parameters<Parameters<Db["transaction"]>[0]>[0], wallet: Address, floor: number) => {
    await tx
      .insert(walletNonces)
      .values({ address: wallet, nextNonce: floor })
      .onDuplicateKeyUpdate({
        set: { nextNonce: sql`GREATEST(${walletNonces.nextNonce}, ${floor})` },
      });
    const [row] = await tx.select().from(walletNonces).where(eq(walletNonces.address, wallet)).for("update");
    if (!row) throw new Error(`wallet_nonces row for ${wallet} vanished`);
    return row.nextNonce;
  };

  return {
    reserve(requestId, wallet) {
      return db.transaction(async (tx) => {
        let next = await lockWallet(tx, wallet, 0);
        const [own] = await tx.select({ nonce: txRequests.nonce }).from(txRequests).where(eq(txRequests.id, requestId));
        if (own?.nonce != null) return own.nonce;
        const waiting = await tx
          .select({ id: txRequests.id })
          .from(txRequests)
          .where(
            and(
              eq(txRequests.fromAddress, wallet),
              eq(txRequests.status, "queued"),
              sql`${txRequests.nonce} IS NULL`,
              lte(txRequests.id, requestId),
            ),
          )
          .orderBy(asc(txRequests.id))
          .for("update");
        let mine: number | undefined;
        for (const { id } of waiting) {
          await tx.update(txRequests).set({ nonce: next }).where(eq(txRequests.id, id));
          if (id === requestId) mine = next;
          next += 1;
        }
        await tx.update(walletNonces).set({ nextNonce: next }).where(eq(walletNonces.address, wallet));
        if (mine === undefined) throw new Error(`tx request ${requestId} is not a queued request of ${wallet}`);
        return mine;
      });
    },

    repair(wallet, chainNonce) {
      return db.transaction(async (tx) => {
        const next = await lockWallet(tx, wallet, chainNonce.pending);
        const owned = await tx
          .select({ nonce: txRequests.nonce })
          .from(txRequests)
          .where(
            and(
              eq(txRequests.fromAddress, wallet),
              gte(txRequests.nonce, chainNonce.latest),
              lt(txRequests.nonce, next),
            ),
          );
        const taken = new Set(owned.map((row) => row.nonce));
        const fillers: string[] = [];
        for (let nonce = chainNonce.latest; nonce < next && fillers.length < MAX_GAP_FILL; nonce += 1) {
          if (taken.has(nonce)) continue;
          const id = newTxRequestId();
          await tx.insert(txRequests).values({
            id,
            userId: null,
            idempotencyKey: `noop:${wallet}:${nonce}:${id}`,
            kind: "noop",
            payload: {},
            fromAddress: wallet,
            nonce,
          });
          fillers.push(id);
        }
        return fillers;
      });
    },
  };
}
