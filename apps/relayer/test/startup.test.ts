import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@certchain/common";
import { freePort } from "@certchain/common/testing";
import { assertNoEviction, createRedis } from "@certchain/queue";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

/** A private redis-server with an evicting policy, so the machine's shared Redis is never reconfigured. */
let redisServer: ChildProcess;
let redisUrl: string;

beforeAll(async () => {
  const port = await freePort();
  redisUrl = `redis://127.0.0.1:${port}`;
  redisServer = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--maxmemory-policy",
      "allkeys-lru",
    ],
    { stdio: "ignore" },
  );
  // ioredis reconnects until the server listens; its interim connection errors are expected here.
  const redis = createRedis(redisUrl);
  redis.on("error", () => {});
  await redis.ping();
  redis.disconnect();
});
afterAll(() => {
  redisServer?.kill("SIGTERM");
});

describe("start-up checks", () => {
  test("error: Redis with an evicting maxmemory-policy is refused with a one-line message", async () => {
    const redis = createRedis(redisUrl);
    await expect(assertNoEviction(redis)).rejects.toThrow(
      'Redis maxmemory-policy is "allkeys-lru", but queues need "noeviction"',
    );
    redis.disconnect();
  });

  test("error: the relayer process exits 1 with that line and no stack trace", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "apps/relayer/src/main.ts")], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: redisUrl, LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^relayer: Redis maxmemory-policy is "allkeys-lru", but queues need "noeviction"/),
    ]);
  });
});
