import { UserFacingError } from "@certchain/common";
import { Redis } from "ioredis";

/**
 * A Redis connection for BullMQ: workers need `maxRetriesPerRequest: null` (a blocking command must wait out a
 * reconnect rather than fail).
 */
export function createRedis(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null });
}

/**
 * A Redis connection for code that answers requests (the API's queue producer, sign-in nonces, status feed): while Redis
 * is down, a command fails at the next reconnect attempt (within about 2 s) instead of waiting for Redis to come back,
 * and a command a hung Redis leaves unanswered fails after 2 s, so the request gets a 503 rather than hanging. Not for
 * BullMQ workers, which need `createRedis`.
 */
export function createFailFastRedis(redisUrl: string): Redis {
  return new Redis(redisUrl, {
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
}

/**
 * BullMQ's own docs: `noeviction` is the only policy that guarantees correct behaviour; any other lets Redis delete
 * job keys under memory pressure, which loses requests silently. So refuse to start instead of warning.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const reply = (await redis.config("GET", "maxmemory-policy")) as string[];
  const policy = reply[1];
  if (policy !== "noeviction") {
    throw new UserFacingError(
      `Redis maxmemory-policy is "${policy}", but queues need "noeviction" — run \`redis-cli config set maxmemory-policy noeviction\` (and set it in redis.conf)`,
    );
  }
}
