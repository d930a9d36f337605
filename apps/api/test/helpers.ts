import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, loadConfig } from "@certchain/common";
import { type Deployment, deployContracts } from "@certchain/contracts";
import { type Anvil, startAnvil } from "@certchain/contracts/anvil";
import { users } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { createContentStore } from "@certchain/storage";
import { eq } from "drizzle-orm";
import { Redis } from "ioredis";
import { createApp } from "../src/app.ts";
import type { ApiDeps } from "../src/context.ts";
import { createApiDeps } from "../src/deps.ts";

export type TestApi = {
  app: ReturnType<typeof createApp>;
  deps: ApiDeps;
  database: TestDatabase;
  anvil: Anvil;
  deployment: Deployment;
  /** POSTs JSON to a tRPC mutation and returns the HTTP status and parsed body. */
  mutation(path: string, input?: unknown, headers?: Record<string, string>): Promise<TrpcResult>;
  /**
   * GETs a tRPC query, or a subscription: its SSE stream is read up to the first data or error event, which comes back
   * as a query's would (`{ result: { data } }` with 200, or `{ error }` with the error's HTTP status), and then closed.
   */
  query(path: string, input?: unknown, headers?: Record<string, string>): Promise<TrpcResult>;
  close(): Promise<void>;
};

// biome-ignore lint/suspicious/noExplicitAny: raw JSON bodies, whose shape each test asserts
export type TrpcResult = { status: number; body: any; headers: Headers };

/**
 * The API over its own fresh database and anvil, called in-process with `app.request()` (no socket). `env` overrides configuration; by default the request rate limit is
 * out of reach, since every in-process request shares one client address (rate-limit.test.ts sets its own
 * limits).
 */
export async function createTestApi(env: Record<string, string> = {}): Promise<TestApi> {
  const [database, anvil] = await Promise.all([createTestDatabase(), startAnvil()]);
  // Each test file queues under its own Redis prefix, removed again in close().
  const redisPrefix = `test-api-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const closers: Array<() => Promise<void>> = [];
  const config = loadConfig({
    REDIS_PREFIX: redisPrefix,
    NODE_ENV: "test",
    DATABASE_URL: database.url,
    ETH_NODE_URL: anvil.rpcUrl,
    LOG_LEVEL: "silent",
    RATE_LIMIT_PER_MINUTE: "1000000",
    RATE_LIMIT_REGISTRATIONS_PER_HOUR: "1000000",
    RATE_LIMIT_NONCES_PER_MINUTE: "1000000",
    ...env,
  });
  const deployment = await deployContracts({
    rpcUrl: anvil.rpcUrl,
    chainId: config.chainId,
    operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
  });
  const storageDir = await mkdtemp(join(tmpdir(), "certchain-api-storage-"));
  const storage = await createContentStore({ directory: storageDir });
  const deps: ApiDeps = await createApiDeps(config, database.db, {
    deployment,
    storage,
    pool: database,
    onClose: (close) => closers.push(close),
  });
  const app = createApp(deps);
  const send = async (request: Request): Promise<TrpcResult> => {
    const response = await app.request(request);
    if (response.headers.get("content-type")?.startsWith("text/event-stream")) return firstStreamEvent(response);
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
  };
  return {
    app,
    deps,
    database,
    anvil,
    deployment,
    mutation: (path, input, headers = {}) =>
      send(
        new Request(`http://localhost/trpc/${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(input ?? null),
        }),
      ),
    query: (path, input, headers = {}) =>
      send(
        new Request(
          `http://localhost/trpc/${path}${input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
          { headers },
        ),
      ),
    close: async () => {
      await Promise.all(closers.map((close) => close()));
      await deleteRedisKeys(config.redisUrl, redisPrefix);
      await Promise.all([database.drop(), anvil.stop(), rm(storageDir, { recursive: true, force: true })]);
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export type TestAccount = { id: number; wallet: `0x${string}`; token: string; headers: Record<string, string> };

/** Registers `name` (email `<name>@example.org`) and gives it `role` in its row, as an admin's grant would. */
export async function signUp(api: TestApi, name: string, role: "user" | "issuer" | "admin"): Promise<TestAccount> {
  const result = await api.mutation("auth.register", {
    username: name,
    email: `${name}@example.org`,
    password: "long enough pw",
  });
  const { user, token } = result.body.result.data;
  await api.deps.db.update(users).set({ role }).where(eq(users.id, user.id));
  return { id: user.id, wallet: user.walletAddress, token, headers: bearer(token) };
}

/** A subscription's first data or error event (tRPC answers every subscription 200 and reports errors in-stream). */
async function firstStreamEvent(response: Response): Promise<TrpcResult> {
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`subscription stream ended without data or error: ${text}`);
      text += value;
      for (const block of text.split("\n\n").slice(0, -1)) {
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data === undefined || data === "") continue;
        if (event === "serialized-error") {
          const error = JSON.parse(data);
          return { status: error.data.httpStatus, body: { error }, headers: response.headers };
        }
        if (event === undefined)
          return { status: 200, body: { result: { data: JSON.parse(data) } }, headers: response.headers };
      }
    }
  } finally {
    await reader.cancel();
  }
}

async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
