import { createLogger, loadConfig } from "@certchain/common";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  type CacheInvalidation,
  cacheInvalidationChannel,
  cacheKeys,
  createCacheInvalidator,
  MAX_INVALIDATED_KEYS,
  parseCacheInvalidation,
} from "../src/cache-invalidation.ts";

const { redisUrl } = loadConfig({});
const redisPrefix = `test-cache-invalidation-${process.pid}`;
const keys = cacheKeys(redisPrefix);
const logger = createLogger({ logLevel: "silent" }, "test");
let redis: Redis;
let subscriber: Redis;
const received: CacheInvalidation[] = [];

beforeAll(async () => {
  redis = new Redis(redisUrl);
  subscriber = new Redis(redisUrl);
  subscriber.on("message", (_channel: string, message: string) => {
    const change = parseCacheInvalidation(message);
    if (change) received.push(change);
  });
  await subscriber.subscribe(cacheInvalidationChannel(redisPrefix));
});

afterAll(async () => {
  const left = await redis.keys(`${redisPrefix}:*`);
  if (left.length > 0) await redis.del(...left);
  subscriber.disconnect();
  redis.disconnect();
});

const nextMessage = async () => {
  await expect.poll(() => received.length).toBeGreaterThan(0);
  return received.shift();
};

test("default: bumps the counters, deletes the named values and publishes the change", async () => {
  const invalidator = createCacheInvalidator({ redisUrl, redisPrefix, logger });
  try {
    await redis.set(keys.value("certificates", "7"), "cached");
    const change: CacheInvalidation = { keys: { certificates: ["7", "7"], balances: ["0xab"] }, flush: ["listings"] };
    expect(await invalidator.invalidate(change)).toBe(true);
    expect(await nextMessage()).toEqual({ keys: { certificates: ["7"], balances: ["0xab"] }, flush: ["listings"] });
    expect(await redis.get(keys.value("certificates", "7"))).toBeNull();
    expect(await redis.get(keys.version("certificates", "7"))).toBe("1");
    expect(await redis.get(keys.version("balances", "0xab"))).toBe("1");
    expect(await redis.get(keys.generation("listings"))).toBe("1");
    expect(await redis.pttl(keys.generation("listings"))).toBeGreaterThan(0);
  } finally {
    await invalidator.close();
  }
});

test("behavior: too many keys in one namespace are sent as a flush of it (a backfill batch)", async () => {
  const invalidator = createCacheInvalidator({ redisUrl, redisPrefix, logger });
  try {
    const many = Array.from({ length: MAX_INVALIDATED_KEYS + 1 }, (_, i) => String(i + 1000));
    expect(await invalidator.invalidate({ keys: { certificates: many, balances: ["0xcd"] }, flush: [] })).toBe(true);
    expect(await nextMessage()).toEqual({ keys: { balances: ["0xcd"] }, flush: ["certificates"] });
    expect(await redis.get(keys.generation("certificates"))).toBe("1");
  } finally {
    await invalidator.close();
  }
});

test("error: with Redis unreachable it gives up within its timeout instead of holding the indexer", async () => {
  const invalidator = createCacheInvalidator({ redisUrl: "redis://127.0.0.1:1", redisPrefix, logger, timeoutMs: 300 });
  try {
    const started = Date.now();
    expect(await invalidator.invalidate({ keys: { certificates: ["1"] }, flush: [] })).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
  } finally {
    await invalidator.close();
  }
});

test("error: malformed messages are refused", () => {
  for (const message of [
    "",
    "null",
    "[]",
    '{"keys":{}}',
    '{"keys":{"nope":["1"]},"flush":[]}',
    '{"keys":{},"flush":[1]}',
  ]) {
    expect(parseCacheInvalidation(message), message).toBeNull();
  }
  expect(parseCacheInvalidation('{"keys":{"certificates":["1"]},"flush":["listings"]}')).toEqual({
    keys: { certificates: ["1"] },
    flush: ["listings"],
  });
});
