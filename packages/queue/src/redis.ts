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
