import { type Db, type DbTransaction, newTxRequestId, txRequests, walletNonces } from "@certchain/db";
import { and, asc, eq, gte, inArray, lt, lte, sql } from "drizzle-orm";
import type { Address } from "viem";
import { caseById, ROW_LOCKS_ONLY } from "./bulk-sql.ts";
import { dependencyMet } from "./dependencies.ts";

/**
 * Nonces live in MySQL: `wallet_nonces.next_nonce` is handed out under that row's lock (`SELECT … FOR UPDATE`) in the
 * same transaction that writes the nonce into `tx_requests`, so across any number of relayer processes a nonce is
 * never given twice (UNIQUE(from_address, nonce) backs this up) and never given without its request: a crash either
 * keeps both or neither. viem's nonce manager is not used; it is per process.
 *
 * Order: reserving for a request also reserves, in id (= submission) order, for every earlier queued request of the
 * wallet that has none yet, so one wallet's requests take consecutive nonces in the order they were submitted even
 * when several workers race. An earlier request that then fails its simulation cancels its nonce with a no-op rather
 * than leaving a gap. A request whose dependency is not mined yet is skipped (see `dependencies.ts`): it takes a later
 * nonce once it may be sent.
 */

/** At most this many gap fillers per repair, so a corrupted counter cannot flood the chain. */
const MAX_GAP_FILL = 100;
/** Rows per multi-row UPDATE, keeping statements well under `max_allowed_packet`. */
const UPDATE_CHUNK = 500;

export type NonceReservations = {
  /** The request's nonce, reserving it (and earlier requests' nonces) if it has none. */
  reserve(requestId: string, wallet: Address): Promise<number>;
  /**
   * Within the caller's transaction (so the nonces commit with whatever the caller writes next, or not at all): locks
   * the wallet and returns the nonce of each of `requestIds` that is still `queued`, reserving the missing ones (and
   * those of earlier waiting requests) in id order. Requests no longer queued, or whose dependency is not mined, are
   * left out. The returned rows stay locked until the caller commits.
   */
  reserveMany(tx: DbTransaction, wallet: Address, requestIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * Re-aligns a wallet with the chain: raises `next_nonce` to the chain's pending nonce if something outside the
   * relayer used nonces, and creates a `noop` request for every nonce in [chain latest, next) that no request owns.
   * Returns the ids of the fillers to enqueue.
   */
  repair(wallet: Address, chainNonce: { latest: number; pending: number }): Promise<string[]>;
};

export function createNonceReservations(db: Db): NonceReservations {
  const lockWallet = async (tx: DbTransaction, wallet: Address, floor: number) => {
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

  const reserveMany = async (tx: DbTransaction, wallet: Address, requestIds: readonly string[]) => {
    let next = await lockWallet(tx, wallet, 0);
    const own = await tx
      .select({ id: txRequests.id, nonce: txRequests.nonce, status: txRequests.status })
      .from(txRequests)
      .where(inArray(txRequests.id, [...requestIds]))
      .orderBy(asc(txRequests.id))
      .for("update");
    const nonces = new Map<string, number>();
    const queued = own.filter((row) => row.status === "queued");
    for (const row of queued) if (row.nonce !== null) nonces.set(row.id, row.nonce);
    const last = queued.filter((row) => row.nonce === null).at(-1);
    if (!last) return nonces;
    // Found with a plain read, then locked by primary key: a locking read over an index range would also lock, for
    // a moment, other wallets' rows it passes over, and deadlock with their batches.
    const found = await tx
      .select({ id: txRequests.id })
      .from(txRequests)
      .where(
        and(
          eq(txRequests.fromAddress, wallet),
          eq(txRequests.status, "queued"),
          sql`${txRequests.nonce} IS NULL`,
          lte(txRequests.id, last.id),
          dependencyMet,
        ),
      )
      .orderBy(asc(txRequests.id));
    const waiting = (
      found.length === 0
        ? []
        : await tx
            .select({ id: txRequests.id, status: txRequests.status, nonce: txRequests.nonce })
            .from(txRequests)
            .where(
              inArray(
                txRequests.id,
                found.map((row) => row.id),
              ),
            )
            .orderBy(asc(txRequests.id))
            .for("update")
    ).filter((row) => row.status === "queued" && row.nonce === null);
    const assigned: Array<[string, number]> = [];
    for (const { id } of waiting) {
      assigned.push([id, next]);
      nonces.set(id, next);
      next += 1;
    }
    for (let i = 0; i < assigned.length; i += UPDATE_CHUNK) {
      const chunk = assigned.slice(i, i + UPDATE_CHUNK);
      await tx
        .update(txRequests)
        .set({ nonce: caseById(chunk) })
        .where(
          inArray(
            txRequests.id,
            chunk.map(([id]) => id),
          ),
        );
    }
    await tx.update(walletNonces).set({ nextNonce: next }).where(eq(walletNonces.address, wallet));
    // Only the caller's requests: earlier ones reserved on the way keep their nonce for their own turn.
    const wanted = new Set(requestIds);
    return new Map([...nonces].filter(([id]) => wanted.has(id)));
  };

  return {
    async reserve(requestId, wallet) {
      const nonces = await db.transaction((tx) => reserveMany(tx, wallet, [requestId]), ROW_LOCKS_ONLY);
      const nonce = nonces.get(requestId);
      if (nonce === undefined) throw new Error(`tx request ${requestId} is not a queued request of ${wallet}`);
      return nonce;
    },

    reserveMany,

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
      }, ROW_LOCKS_ONLY);
    },
  };
}
