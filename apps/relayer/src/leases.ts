import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";

/**
 * Short Redis leases that say which relayer process does a piece of shared work: sending for a wallet, following
 * blocks. They only avoid doing the same work twice; correctness never rests on them (a process that lost its lease
 * while working still goes through MySQL row locks and status-guarded updates), so no fencing is needed here.
 */
export type Leases = {
  /** This process's name in lease values: `<host>:<pid>:<random>`. */
  owner: string;
  /** Takes the lease, or extends it when this process holds it; false while another process holds it. */
  acquire(name: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if this process holds it. */
  release(name: string): Promise<void>;
  /** Whether another process holds the lease now. */
  heldElsewhere(name: string): Promise<boolean>;
};

const ACQUIRE = `
local current = redis.call("GET", KEYS[1])
if current == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`;

/** The scripts as commands of the connection: ioredis sends their SHA (EVALSHA), and the script only when Redis lacks it. */
type LeaseCommands = {
  certchainLeaseAcquire(key: string, owner: string, ttlMs: string): Promise<number>;
  certchainLeaseRelease(key: string, owner: string): Promise<number>;
};

export function createLeases(redis: Redis, prefix: string): Leases {
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  const key = (name: string) => `${prefix}:relayer:lease:${name}`;
  redis.defineCommand("certchainLeaseAcquire", { numberOfKeys: 1, lua: ACQUIRE });
  redis.defineCommand("certchainLeaseRelease", { numberOfKeys: 1, lua: RELEASE });
  const commands = redis as unknown as LeaseCommands;
  return {
    owner,
    async acquire(name, ttlMs) {
      return (await commands.certchainLeaseAcquire(key(name), owner, String(Math.ceil(ttlMs)))) === 1;
    },
    async release(name) {
      await commands.certchainLeaseRelease(key(name), owner);
    },
    async heldElsewhere(name) {
      const holder = await redis.get(key(name));
      return holder !== null && holder !== owner;
    },
  };
}
