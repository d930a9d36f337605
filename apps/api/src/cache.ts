import type { Config, Logger } from "@certchain/common";
import {
  CACHE_NAMESPACES,
  type CacheInvalidation,
  type CacheNamespace,
  cacheInvalidationChannel,
  cacheKeys,
  parseCacheInvalidation,
} from "@certchain/queue";
import { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { Counter, type Registry } from "prom-client";

/**
 * Read caches for the API's hot reads: `certificates.get`, first pages of `market.listings` and `account.balance`.
 *
 * Two tiers in front of the loader (the procedure's own query): this process's LRU, then Redis, shared by every API
 * process. Nothing is ever served older than the namespace's TTL (`CACHE_TTL_MS`, `CACHE_BALANCE_TTL_MS`), counted
 * from the moment the loader started reading. Sooner than that, the indexer invalidates what a commit changed
 * (`@certchain/queue`'s cache-invalidation): it bumps the Redis counters a cached value is stamped with, so readers
 * stop accepting the old value, and publishes the change, on which every process drops the entries from its LRU.
 *
 * - The LRU is only used while this process is subscribed to the invalidations: while the subscriber is disconnected
 *   messages are lost, so the LRU is emptied and bypassed until it is subscribed again.
 * - Concurrent misses of one key share one load (single flight). A load that an invalidation overtakes still answers
 *   its callers (they asked before the change was announced) but leaves nothing in the LRU; its Redis copy carries
 *   the counters read before the load, which no longer match.
 * - Redis failing (down, slow) never fails a read: the cache's commands have their own connection that fails fast,
 *   and the answer comes from the loader.
 * - Values must be JSON (no `Date`, no `bigint`): the Redis tier stores them as JSON, and both tiers must answer
 *   alike. They are shared between callers: never mutate one.
 */

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type ReadCache = {
  /** `key`'s value, from this process's memory, else Redis, else `load()` (whose value is then kept in both). */
  get<T extends JsonObject>(key: string, load: () => Promise<T>): Promise<T>;
  /** 0 when the cache is off. */
  readonly ttlMs: number;
};

export type ReadCaches = Record<CacheNamespace, ReadCache> & {
  /** Adds the hit/miss counters to a metrics registry (the app's `/metrics`). */
  registerMetrics(registry: Registry): void;
  /** Drops entries from this process's memory, as an invalidation message does. */
  forget(change: CacheInvalidation): void;
  /** Resolves once the cache's Redis connections are up and subscribed (reads before that skip the LRU). */
  ready(): Promise<void>;
  close(): Promise<void>;
};

/** Entries per namespace held in one process: a certificate's answer is under 1 KiB, a page of listings ~ 20 KiB. */
const MAX_ENTRIES: Record<CacheNamespace, number> = { certificates: 20_000, listings: 500, balances: 10_000 };
/** A cache command slower than this gives up and the loader answers. */
const REDIS_COMMAND_TIMEOUT_MS = 500;
/**
 * One round trip per lookup: the cached value, the counters it must be stamped with (KEYS[2], and KEYS[3] when the
 * namespace has per-key versions) and its remaining life. A script rather than a pipeline of MGET and PTTL, which
 * costs ioredis three times the CPU.
 */
const LOOKUP_SCRIPT = `
local value = redis.call('GET', KEYS[1])
local generation = redis.call('GET', KEYS[2])
local version = false
if #KEYS > 2 then version = redis.call('GET', KEYS[3]) end
return {value, generation, version, redis.call('PTTL', KEYS[1])}`;
type LookupCommand = (
  numberOfKeys: number,
  ...keys: string[]
) => Promise<[string | null, string | null, string | null, number]>;

type Flight = { promise: Promise<JsonObject>; invalidated: boolean };
type Result = "hit_memory" | "hit_redis" | "miss" | "coalesced";

export function createReadCaches(
  config: Pick<Config, "redisUrl" | "redisPrefix" | "cacheTtlMs" | "cacheBalanceTtlMs">,
  logger: Logger,
): ReadCaches {
  const ttls: Record<CacheNamespace, number> = {
    certificates: config.cacheTtlMs,
    listings: config.cacheTtlMs,
    balances: config.cacheBalanceTtlMs,
  };
  const enabled = CACHE_NAMESPACES.some((name) => ttls[name] > 0);
  const keys = cacheKeys(config.redisPrefix);
  const channel = cacheInvalidationChannel(config.redisPrefix);

  const requests = new Counter({
    name: "certchain_cache_requests_total",
    help: "API read cache lookups by cache and result: hit_memory, hit_redis, miss (loaded), coalesced (joined a load)",
    labelNames: ["cache", "result"],
    registers: [],
  });
  const redisErrors = new Counter({
    name: "certchain_cache_redis_errors_total",
    help: "API read cache commands that failed or timed out (the read was answered by the loader)",
    labelNames: ["cache"],
    registers: [],
  });
  const invalidations = new Counter({
    name: "certchain_cache_invalidations_total",
    help: "Invalidation messages received from the indexer",
    registers: [],
  });

  let warnedAt = 0;
  const warn = (message: string, error: unknown) => {
    // An unreachable Redis is reported once a minute, not per read.
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    logger.warn({ err: error instanceof Error ? error.message : String(error) }, message);
  };

  // Commands: their own connection with the offline queue off, so a read never waits for Redis to come back.
  const redis = enabled
    ? new Redis(config.redisUrl, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 2_000,
        commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      })
    : undefined;
  redis?.on("error", (error) => warn("Read cache's Redis connection failed; reads go to the database", error));
  redis?.defineCommand("certchainCacheLookup", { lua: LOOKUP_SCRIPT });

  // Invalidations: one subscriber connection per process. The LRU is trusted only while it is subscribed.
  let subscribed = false;
  const subscriber = enabled
    ? new Redis(config.redisUrl, {
        autoResubscribe: false,
        maxRetriesPerRequest: null,
        connectTimeout: 2_000,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      })
    : undefined;

  const namespaces = Object.fromEntries(
    CACHE_NAMESPACES.map((name) => [name, createNamespace(name)]),
  ) as unknown as Record<CacheNamespace, ReturnType<typeof createNamespace>>;

  const forgetAll = () => {
    for (const name of CACHE_NAMESPACES) namespaces[name].flush();
  };
  const forget = (change: CacheInvalidation) => {
    for (const name of change.flush) namespaces[name].flush();
    for (const [name, list] of Object.entries(change.keys) as Array<[CacheNamespace, string[] | undefined]>) {
      for (const key of list ?? []) namespaces[name].drop(key);
    }
  };

  let readyResolve: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  if (subscriber && redis) {
    subscriber.on("message", (messageChannel: string, message: string) => {
      if (messageChannel !== channel) return;
      invalidations.inc();
      const change = parseCacheInvalidation(message);
      if (change) forget(change);
      else {
        logger.warn({ channel, message: message.slice(0, 200) }, "Ignored a malformed cache invalidation");
        forgetAll();
      }
    });
    subscriber.on("ready", () => {
      subscriber.subscribe(channel).then(
        () => {
          // Whatever was announced while we were not listening is unknown: start from an empty LRU.
          forgetAll();
          subscribed = true;
          if (redis.status === "ready") readyResolve();
          else redis.once("ready", readyResolve);
        },
        (error: unknown) => warn("Read cache failed to subscribe to invalidations", error),
      );
    });
    subscriber.on("close", () => {
      if (!subscribed) return;
      subscribed = false;
      forgetAll();
    });
    subscriber.on("error", (error) => warn("Read cache's subscriber connection failed; the LRU is bypassed", error));
  } else {
    readyResolve();
  }

  function createNamespace(name: CacheNamespace) {
    const ttlMs = ttls[name];
    const memory = new LRUCache<string, JsonObject>({ max: MAX_ENTRIES[name], ttl: Math.max(ttlMs, 1) });
    const flights = new Map<string, Flight>();
    const count = (result: Result) => requests.inc({ cache: name, result });

    /** The stamp current counters give: `<namespace generation>.<key version>`. */
    const stampOf = (generation: string | null, version: string | null) => `${generation ?? "0"}.${version ?? "0"}`;

    /** Redis's copy if its stamp is current, with its remaining life; or the current stamp to store a load under. */
    async function lookup(
      connection: Redis,
      key: string,
    ): Promise<{ value: JsonObject; ttlLeftMs: number } | { stamp: string } | undefined> {
      try {
        // Listings pages are only ever invalidated whole: they have no version of their own.
        const lookupKeys = [keys.value(name, key), keys.generation(name)];
        if (name !== "listings") lookupKeys.push(keys.version(name, key));
        const command = (connection as unknown as { certchainCacheLookup: LookupCommand }).certchainCacheLookup;
        const [stored, generation, version, ttlLeft] = await command.call(connection, lookupKeys.length, ...lookupKeys);
        const stamp = stampOf(generation, version);
        if (stored && ttlLeft > 0) {
          const cached = JSON.parse(stored) as { s?: unknown; v?: JsonObject };
          if (cached.s === stamp && cached.v !== undefined) return { value: cached.v, ttlLeftMs: ttlLeft };
        }
        return { stamp };
      } catch (error) {
        redisErrors.inc({ cache: name });
        warn("Read cache's Redis lookup failed; reads go to the database", error);
        return undefined;
      }
    }

    async function fill(key: string, load: () => Promise<JsonObject>, flight: Flight): Promise<JsonObject> {
      const started = performance.now();
      const useMemory = subscribed;
      const connection = redis?.status === "ready" ? redis : undefined;
      const found = connection ? await lookup(connection, key) : undefined;
      if (found && "value" in found) {
        count("hit_redis");
        if (useMemory && subscribed && !flight.invalidated)
          memory.set(key, found.value, { ttl: Math.min(ttlMs, found.ttlLeftMs) });
        return found.value;
      }
      count("miss");
      const value = await load();
      // The TTL runs from the start of the read, so no answer outlives it, however slow the load was.
      const ttlLeft = Math.floor(ttlMs - (performance.now() - started));
      if (ttlLeft <= 0 || flight.invalidated) return value;
      if (useMemory && subscribed) memory.set(key, value, { ttl: ttlLeft });
      if (connection && found) {
        connection
          .set(keys.value(name, key), JSON.stringify({ s: found.stamp, v: value }), "PX", ttlLeft)
          .catch((error: unknown) => {
            redisErrors.inc({ cache: name });
            warn("Read cache's Redis write failed", error);
          });
      }
      return value;
    }

    const cache: ReadCache = {
      ttlMs,
      get<T extends JsonObject>(key: string, load: () => Promise<T>): Promise<T> {
        if (ttlMs === 0) return load();
        if (subscribed) {
          const value = memory.get(key);
          if (value !== undefined) {
            count("hit_memory");
            return Promise.resolve(value as T);
          }
        }
        const joined = flights.get(key);
        if (joined) {
          count("coalesced");
          return joined.promise as Promise<T>;
        }
        const flight: Flight = { promise: Promise.resolve({}), invalidated: false };
        flight.promise = fill(key, load, flight);
        flights.set(key, flight);
        const done = () => {
          if (flights.get(key) === flight) flights.delete(key);
        };
        flight.promise.then(done, done);
        return flight.promise as Promise<T>;
      },
    };

    return {
      cache,
      /** Drops one key: from memory, and from any load in flight (later callers start a new one). */
      drop(key: string) {
        memory.delete(key);
        const flight = flights.get(key);
        if (flight) {
          flight.invalidated = true;
          flights.delete(key);
        }
      },
      flush() {
        memory.clear();
        for (const flight of flights.values()) flight.invalidated = true;
        flights.clear();
      },
    };
  }

  return {
    certificates: namespaces.certificates.cache,
    listings: namespaces.listings.cache,
    balances: namespaces.balances.cache,
    registerMetrics(registry) {
      registry.registerMetric(requests);
      registry.registerMetric(redisErrors);
      registry.registerMetric(invalidations);
    },
    forget,
    ready: () => readyPromise,
    async close() {
      subscribed = false;
      forgetAll();
      subscriber?.disconnect();
      redis?.disconnect();
    },
  };
}
