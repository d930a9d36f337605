import type { Logger } from "@certchain/common";
import { Redis } from "ioredis";
import { parseJsonObject } from "./messages.ts";

/*
 * The API's read caches (`apps/api/src/cache.ts`) and the indexer, which tells them when a row they cache changed.
 * Both sides share the Redis key layout and the message format defined here.
 *
 * A cached value in Redis carries the stamp it was loaded under: the generation of its namespace and the version of
 * its key, two counters the indexer increments after each commit that changes them. A reader compares the stamp with
 * the counters (same round trip) and treats a mismatch as a miss, so a value loaded from rows the indexer has since
 * changed is never served again, even if it was written to Redis after the invalidation. The message on
 * `cacheInvalidationChannel` then tells every API process to drop the same entries from its memory.
 */

/** What the API caches: `certificates.get` by token id, first pages of `market.listings`, `account.balance`. */
export const CACHE_NAMESPACES = ["certificates", "listings", "balances"] as const;
export type CacheNamespace = (typeof CACHE_NAMESPACES)[number];

/**
 * One commit's changes. `keys` names entries (token ids, lowercase wallet addresses); `flush` drops a namespace whole
 * (every listings change, since pages are not keyed by listing; a reorg's balances; a rebuild).
 */
export type CacheInvalidation = {
  keys: Partial<Record<CacheNamespace, string[]>>;
  flush: CacheNamespace[];
};

/**
 * How long the indexer keeps a generation or version counter after its last change. Cached values live at most
 * `CACHE_TTL_MS` (a minute at most), so by the time a counter expires and starts again from 0, no value stamped with
 * an older count is left.
 */
export const CACHE_COUNTER_TTL_MS = 60 * 60 * 1000;
/** More keys than this in one namespace are sent as a flush of the namespace: a backfill batch names thousands. */
export const MAX_INVALIDATED_KEYS = 500;

/** Redis pub/sub channel of `CacheInvalidation` JSON, published by the indexer after each commit. */
export function cacheInvalidationChannel(redisPrefix: string): string {
  return `${redisPrefix}:cache-invalidate`;
}

/** The Redis keys of the read caches, under REDIS_PREFIX. */
export function cacheKeys(redisPrefix: string) {
  return {
    /** A cached value: `{"s": stamp, "v": value}` JSON with a TTL. */
    value: (namespace: CacheNamespace, key: string) => `${redisPrefix}:cache:${namespace}:${key}`,
    /** Incremented when the whole namespace is invalidated. */
    generation: (namespace: CacheNamespace) => `${redisPrefix}:cache-gen:${namespace}`,
    /** Incremented when one key is invalidated. */
    version: (namespace: CacheNamespace, key: string) => `${redisPrefix}:cache-ver:${namespace}:${key}`,
  };
}

const namespaces: ReadonlySet<string> = new Set(CACHE_NAMESPACES);

/** A `CacheInvalidation` from the channel's JSON, or null when the message is not one. */
export function parseCacheInvalidation(message: string): CacheInvalidation | null {
  const value = parseJsonObject(message);
  if (!value) return null;
  const { keys, flush } = value;
  if (!Array.isArray(flush) || !flush.every((name) => typeof name === "string" && namespaces.has(name))) return null;
  if (typeof keys !== "object" || keys === null) return null;
  const parsed: CacheInvalidation = { keys: {}, flush: flush as CacheNamespace[] };
  for (const [name, list] of Object.entries(keys)) {
    if (!namespaces.has(name) || !Array.isArray(list) || !list.every((key) => typeof key === "string")) return null;
    parsed.keys[name as CacheNamespace] = list as string[];
  }
  return parsed;
}

/** True when the change names nothing. */
export function isEmptyInvalidation(change: CacheInvalidation): boolean {
  return change.flush.length === 0 && Object.values(change.keys).every((keys) => !keys || keys.length === 0);
}

export type CacheInvalidator = {
  /**
   * Bumps the counters of what changed, deletes the cached values it can name and publishes the change, all in one
   * MULTI. Call it after the commit, never before (a reader could reload the old rows in between). Never throws:
   * with Redis unreachable it gives up after `timeoutMs` and returns false (the caches' TTL still bounds staleness).
   */
  invalidate(change: CacheInvalidation): Promise<boolean>;
  close(): Promise<void>;
};

/** Turns a change naming too many keys in one namespace into a flush of that namespace. */
function bounded(change: CacheInvalidation): CacheInvalidation {
  const flush = new Set(change.flush);
  const keys: CacheInvalidation["keys"] = {};
  for (const [name, list] of Object.entries(change.keys) as Array<[CacheNamespace, string[] | undefined]>) {
    if (!list || list.length === 0 || flush.has(name)) continue;
    if (list.length > MAX_INVALIDATED_KEYS) flush.add(name);
    else keys[name] = [...new Set(list)];
  }
  return { keys, flush: [...flush] };
}

/** The indexer's side: one Redis connection that invalidates the API's caches after each commit. */
export function createCacheInvalidator(options: {
  redisUrl: string;
  redisPrefix: string;
  logger: Logger;
  /** How long one invalidation may wait for Redis before the indexer moves on (default 2 s). */
  timeoutMs?: number;
}): CacheInvalidator {
  const { logger, redisPrefix } = options;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const keys = cacheKeys(redisPrefix);
  const channel = cacheInvalidationChannel(redisPrefix);
  const redis = new Redis(options.redisUrl, {
    // A command waits for at most one reconnection, and `timeoutMs` bounds the wait in any case.
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let warnedAt = 0;
  const warn = (error: unknown) => {
    // Redis being down is reported once a minute, not per batch.
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "Failed to invalidate the API's caches; their entries expire within CACHE_TTL_MS",
    );
  };
  redis.on("error", warn);

  return {
    async invalidate(change) {
      const sent = bounded(change);
      if (isEmptyInvalidation(sent)) return true;
      const multi = redis.multi();
      for (const name of sent.flush) {
        multi.incr(keys.generation(name)).pexpire(keys.generation(name), CACHE_COUNTER_TTL_MS);
      }
      for (const [name, list] of Object.entries(sent.keys) as Array<[CacheNamespace, string[]]>) {
        for (const key of list) {
          multi
            .incr(keys.version(name, key))
            .pexpire(keys.version(name, key), CACHE_COUNTER_TTL_MS)
            .del(keys.value(name, key));
        }
      }
      multi.publish(channel, JSON.stringify(sent));
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          multi.exec(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return true;
      } catch (error) {
        warn(error);
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      redis.disconnect();
    },
  };
}
