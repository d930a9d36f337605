import { type PrivateServer, privateServersUnavailable, startPrivateRedis } from "@certchain/common/testing";
import { createRedis } from "@certchain/queue";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createLeases } from "../src/leases.ts";

/**
 * Two relayer processes' leases, as two processes on two machines see them, over a Redis of this file's own: one test
 * restarts it, and a restart would take other test files' scripts and keys with it.
 */
let redis: PrivateServer;
let first: Redis;
let second: Redis;
const prefix = "test-leases";
const leaseKey = (name: string) => `${prefix}:relayer:lease:${name}`;

beforeAll(async () => {
  if (privateServersUnavailable()) return;
  redis = await startPrivateRedis();
  first = createRedis(redis.url);
  second = createRedis(redis.url);
});
afterAll(async () => {
  first?.disconnect();
  second?.disconnect();
  await redis?.dispose();
});

/** How often this Redis has answered NOSCRIPT since it started. */
async function noScriptErrors(): Promise<number> {
  const stats = await first.info("errorstats");
  return Number(/^errorstat_NOSCRIPT:count=(\d+)/m.exec(stats)?.[1] ?? 0);
}

describe.skipIf(privateServersUnavailable())("leases", () => {
  test("default: one holder at a time; the holder extends and releases, and only it can", async () => {
    const a = createLeases(first, prefix);
    const b = createLeases(second, prefix);
    expect(a.owner).not.toBe(b.owner);

    expect(await a.acquire("wallet:0xabc", 5_000)).toBe(true);
    expect(await b.acquire("wallet:0xabc", 5_000)).toBe(false);
    expect(await b.heldElsewhere("wallet:0xabc")).toBe(true);
    expect(await a.heldElsewhere("wallet:0xabc")).toBe(false);
    // Another lease name is independent.
    expect(await b.acquire("follower", 5_000)).toBe(true);

    // Acquiring again extends the holder's lease.
    await first.pexpire(leaseKey("wallet:0xabc"), 50);
    expect(await a.acquire("wallet:0xabc", 5_000)).toBe(true);
    expect(await first.pttl(leaseKey("wallet:0xabc"))).toBeGreaterThan(4_000);

    // A release by a process that does not hold the lease changes nothing.
    await b.release("wallet:0xabc");
    expect(await b.acquire("wallet:0xabc", 5_000)).toBe(false);
    await a.release("wallet:0xabc");
    expect(await b.acquire("wallet:0xabc", 5_000)).toBe(true);
  });

  test("behavior: a lease nobody extends expires, and another process takes it", async () => {
    const a = createLeases(first, prefix);
    const b = createLeases(second, prefix);
    expect(await a.acquire("expiring", 100)).toBe(true);
    expect(await b.acquire("expiring", 100)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await b.acquire("expiring", 5_000)).toBe(true);
  });

  test("behavior: when Redis forgets its scripts (SCRIPT FLUSH, a restart), leases keep working", async () => {
    const a = createLeases(first, prefix);
    expect(await a.acquire("after-flush", 5_000)).toBe(true);
    const noScriptBefore = await noScriptErrors();
    await first.script("FLUSH");
    // The connection sends the script's SHA, Redis answers NOSCRIPT, and the client sends the whole script once more.
    expect(await a.acquire("after-flush", 5_000)).toBe(true);
    expect(await noScriptErrors()).toBe(noScriptBefore + 1);

    // After a restart the connection is new, and a new connection sends the whole script first.
    await redis.kill();
    await redis.start();
    expect(await a.acquire("after-restart", 5_000)).toBe(true);
    await a.release("after-restart");
    expect(await first.exists(leaseKey("after-restart"))).toBe(0);
  });
});
