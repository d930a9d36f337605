import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { isConnectionError } from "@certchain/db";
import type { Pool, PoolConnection, RowDataPacket } from "mysql2/promise";
import type { Common } from "../common.ts";
import { LeaseLostError } from "../errors.ts";
import { sleep } from "../sync/retry.ts";

/**
 * Lease timing. A standby takes over at most TTL + one retry interval after the holder's last heartbeat: 5 s + 1 s,
 * inside the 10 s the issue allows, while a holder survives a couple of missed heartbeats (GC pause, slow disk).
 */
export const DEFAULT_LEASE_TTL_MS = 5_000;

export type LeaseOptions = {
  /** How long a heartbeat keeps the lease (tests use less, so restarts after `kill -9` are quick). */
  ttlMs?: number;
};

/**
 * Single-writer lease on `indexer_lock` (see its schema comment). Times are compared with the database clock
 * (`NOW(3)`), so hosts with skewed clocks agree.
 */
export type Lease = {
  /** Waits as a standby until this instance holds the lease; false if `abort()` returned true first. */
  acquire(abort: () => boolean): Promise<boolean>;
  /**
   * Inside a write transaction: locks the lease row and throws `LeaseLostError` unless this instance still holds it
   * with its fencing token. An instance paused past its lease can never commit after a successor started.
   */
  assertHeld(connection: PoolConnection): Promise<void>;
  /** Stops heartbeats and expires the lease at once, so a standby takes over without waiting for the TTL. */
  release(): Promise<void>;
  readonly held: boolean;
  readonly ownerId: string;
  readonly fencingToken: number;
  /** Called once if a heartbeat finds the lease taken. */
  onLost(listener: (error: LeaseLostError) => void): void;
};

export function createLease(
  common: Pick<Common, "config" | "logger" | "metrics">,
  pool: Pool,
  options: LeaseOptions = {},
): Lease {
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const heartbeatMs = Math.max(50, Math.floor(ttlMs / 4));
  const retryMs = Math.max(50, Math.floor(ttlMs / 5));
  const name = `indexer:${common.config.chainId}`;
  const ownerId = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  let fencingToken = 0;
  let held = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let lostListener: ((error: LeaseLostError) => void) | undefined;

  const tryAcquire = async (): Promise<boolean> => {
    const connection = await pool.getConnection();
    try {
      await connection.beginTransaction();
      const [rows] = await connection.query<RowDataPacket[]>(
        "SELECT owner_id, fencing_token, expires_at < NOW(3) AS expired FROM indexer_lock WHERE name = ? FOR UPDATE",
        [name],
      );
      const row = rows[0] as { owner_id: string; fencing_token: number; expired: number } | undefined;
      if (!row) {
        await connection.query(
          "INSERT INTO indexer_lock (name, owner_id, fencing_token, acquired_at, heartbeat_at, expires_at) VALUES (?, ?, 1, NOW(3), NOW(3), NOW(3) + INTERVAL ? MICROSECOND)",
          [name, ownerId, ttlMs * 1000],
        );
        fencingToken = 1;
      } else if (row.expired) {
        fencingToken = Number(row.fencing_token) + 1;
        await connection.query(
          "UPDATE indexer_lock SET owner_id = ?, fencing_token = ?, acquired_at = NOW(3), heartbeat_at = NOW(3), expires_at = NOW(3) + INTERVAL ? MICROSECOND WHERE name = ?",
          [ownerId, fencingToken, ttlMs * 1000, name],
        );
      } else {
        await connection.rollback();
        return false;
      }
      await connection.commit();
      return true;
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      // Two standbys inserting the first row at once: one wins, the other simply tries again later.
      if ((error as { code?: string }).code === "ER_DUP_ENTRY") return false;
      throw error;
    } finally {
      connection.release();
    }
  };

  const beat = async () => {
    try {
      const [result] = await pool.query(
        "UPDATE indexer_lock SET heartbeat_at = NOW(3), expires_at = NOW(3) + INTERVAL ? MICROSECOND WHERE name = ? AND owner_id = ? AND fencing_token = ?",
        [ttlMs * 1000, name, ownerId, fencingToken],
      );
      if ((result as { affectedRows: number }).affectedRows === 0) lose();
    } catch (error) {
      // The database being away is not losing the lease: the fencing check keeps writes safe meanwhile.
      common.logger.warn({ error: (error as Error).message }, "Failed to renew the indexer lease");
    }
  };

  const lose = () => {
    if (!held) return;
    held = false;
    clearInterval(heartbeat);
    common.metrics.isLeader.set(0);
    const error = new LeaseLostError(`lost the indexer lease ${name} (fencing token ${fencingToken})`);
    common.logger.error({ lease: name, fencingToken }, "Lost the indexer lease");
    lostListener?.(error);
  };

  return {
    ownerId,
    get held() {
      return held;
    },
    get fencingToken() {
      return fencingToken;
    },
    onLost(listener) {
      lostListener = listener;
    },
    async acquire(abort) {
      let announced = false;
      let unreachable = false;
      while (!abort()) {
        let acquired: boolean;
        try {
          acquired = await tryAcquire();
          unreachable = false;
        } catch (error) {
          // A standby outlives a database restart as the leader does: it keeps trying.
          if (!isConnectionError(error)) throw error;
          if (!unreachable)
            common.logger.warn({ error: (error as Error).message }, "Database unreachable; waiting for it");
          unreachable = true;
          await sleep(retryMs);
          continue;
        }
        if (acquired) {
          held = true;
          common.metrics.isLeader.set(1);
          heartbeat = setInterval(() => void beat(), heartbeatMs);
          common.logger.info({ lease: name, ownerId, fencingToken }, "Acquired the indexer lease");
          return true;
        }
        if (!announced) {
          common.logger.info({ lease: name, ownerId }, "Waiting as standby for the indexer lease");
          announced = true;
        }
        await sleep(retryMs);
      }
      return false;
    },
    async assertHeld(connection) {
      const [rows] = await connection.query<RowDataPacket[]>(
        "SELECT owner_id, fencing_token FROM indexer_lock WHERE name = ? FOR UPDATE",
        [name],
      );
      const row = rows[0] as { owner_id: string; fencing_token: number } | undefined;
      if (!held || !row || row.owner_id !== ownerId || Number(row.fencing_token) !== fencingToken) {
        lose();
        throw new LeaseLostError(`the indexer lease ${name} is no longer ours (fencing token ${fencingToken})`);
      }
    },
    async release() {
      if (!held) return;
      held = false;
      clearInterval(heartbeat);
      common.metrics.isLeader.set(0);
      await pool
        .query("UPDATE indexer_lock SET expires_at = NOW(3) WHERE name = ? AND owner_id = ? AND fencing_token = ?", [
          name,
          ownerId,
          fencingToken,
        ])
        .catch(() => undefined);
      common.logger.info({ lease: name, fencingToken }, "Released the indexer lease");
    },
  };
}
