import { randomBytes } from "node:crypto";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, type Config, createLogger } from "@certchain/common";
import { type Deployment, deployContracts, paymentTokenAbi } from "@certchain/contracts";
import { type Anvil, type AnvilOptions, startAnvil } from "@certchain/contracts/anvil";
import { type TxRequest, txRequests, users, wallets } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import {
  createRedis,
  createTxRequestProducer,
  FINAL_TX_REQUEST_STATUSES,
  generateCustodialWallet,
  type SubmitTxRequest,
  TX_REQUESTS_QUEUE,
} from "@certchain/queue";
import { Queue } from "bullmq";
import { inArray } from "drizzle-orm";
import type { Redis } from "ioredis";
import { type Address, createPublicClient, createWalletClient, type Hex, http, type PublicClient } from "viem";
import { privateKeyToAccount, privateKeyToAddress } from "viem/accounts";
import { foundry } from "viem/chains";
import { connectChain } from "../src/chain.ts";
import { createRelayer, type Relayer, type RelayerOptions } from "../src/relayer.ts";

export const MASTER_KEY = `0x${"11".repeat(32)}` as Hex;
export const OPERATOR = privateKeyToAddress(ANVIL_ACCOUNT_0_PRIVATE_KEY).toLowerCase() as Address;

/** Relayer settings for tests: fast polling, quick takeover of a dead process's jobs. */
export const testRelayerConfig = {
  nodeEnv: "test",
  finalityDepth: 1,
  relayerPollMs: 100,
  relayerReplaceAfterMs: 60_000,
  relayerMaxFeePerGasWei: 500_000_000_000n,
  relayerConcurrency: 20,
  relayerJobLockMs: 2000,
  operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
  masterKeys: new Map([[1, MASTER_KEY]]) as ReadonlyMap<number, `0x${string}`>,
} satisfies Partial<Config>;

/** Everything a relayer test runs against: its own anvil, database and Redis prefix, with the contracts deployed. */
export type Stack = {
  anvil: Anvil;
  database: TestDatabase;
  deployment: Deployment;
  redis: Redis;
  redisPrefix: string;
  queue: Queue;
  client: PublicClient;
  submit(
    request: Omit<SubmitTxRequest, "userId" | "from"> & { userId?: number | null; from?: Address },
  ): Promise<string>;
  /**
   * Starts an in-process relayer (stopped by `close`), silent unless given a logger; `rpcUrl` puts something between
   * it and anvil.
   */
  startRelayer(
    overrides?: Partial<RelayerOptions["config"]>,
    options?: Partial<Pick<RelayerOptions, "txLogger" | "logger">> & { rpcUrl?: string },
  ): Promise<Relayer>;
  /** A user with a custodial wallet (no ETH: development funding applies). */
  createCustodialUser(name: string): Promise<{ userId: number; address: Address }>;
  waitForFinal(requestIds: string[], timeoutMs?: number): Promise<TxRequest[]>;
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  /** Mints payment tokens straight from the operator (the token owner), outside the relayer. */
  mintTokens(to: Address, amount: bigint): Promise<void>;
  close(): Promise<void>;
};

/** Where a stack's database and queue live: by default the machine's shared MariaDB and Redis. */
export type StackServices = {
  /** A MariaDB server URL (its database name is ignored); the stack's database is created there. */
  databaseServerUrl?: string;
  redisUrl?: string;
};

export async function startStack(anvilOptions: AnvilOptions = {}, services: StackServices = {}): Promise<Stack> {
  const anvil = await startAnvil(anvilOptions);
  const database = await createTestDatabase({ poolSize: 10, serverUrl: services.databaseServerUrl });
  const deployment = await deployContracts({
    rpcUrl: anvil.rpcUrl,
    chainId: 31337,
    operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
  });
  const redis = createRedis(services.redisUrl ?? "redis://127.0.0.1:6379");
  const redisPrefix = `test:${process.pid}:${randomBytes(4).toString("hex")}`;
  const queue = new Queue(TX_REQUESTS_QUEUE, { connection: redis, prefix: redisPrefix });
  const producer = createTxRequestProducer({ db: database.db, queue });
  const client = createPublicClient({ transport: http(anvil.rpcUrl) });
  const relayers: Relayer[] = [];
  let userCount = 0;

  return {
    anvil,
    database,
    deployment,
    redis,
    redisPrefix,
    queue,
    client,
    async submit({ userId = null, from = OPERATOR, ...request }) {
      const { requestId } = await producer.submit({ userId, from, ...request } as SubmitTxRequest);
      return requestId;
    },
    async startRelayer(overrides = {}, { rpcUrl = anvil.rpcUrl, ...options } = {}) {
      const relayer = createRelayer({
        ...options,
        config: { ...testRelayerConfig, redisPrefix, ...overrides },
        logger: options.logger ?? createLogger({ logLevel: "silent" }, "relayer"),
        db: database.db,
        redis,
        chain: await connectChain(rpcUrl, 31337),
        deployment,
      });
      relayers.push(relayer);
      await relayer.start();
      return relayer;
    },
    async createCustodialUser(name) {
      userCount += 1;
      const wallet = generateCustodialWallet(MASTER_KEY);
      const [inserted] = await database.db.insert(users).values({
        username: `${name}${userCount}`,
        email: `${name}${userCount}@example.test`,
        passwordHash: "x",
        walletAddress: wallet.address,
      });
      const userId = inserted.insertId;
      await database.db.insert(wallets).values({ userId, ...wallet });
      return { userId, address: wallet.address };
    },
    async waitForFinal(requestIds, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await database.db.select().from(txRequests).where(inArray(txRequests.id, requestIds));
        const final = rows.filter((row) => (FINAL_TX_REQUEST_STATUSES as readonly string[]).includes(row.status));
        if (final.length === requestIds.length)
          return requestIds.map((id) => rows.find((row) => row.id === id) as TxRequest);
        if (Date.now() > deadline) {
          const pending = rows.filter((row) => !final.includes(row)).map((row) => `${row.id}:${row.status}`);
          throw new Error(
            `requests not final after ${timeoutMs} ms: ${pending.slice(0, 5).join(", ")} (${pending.length})`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async mintTokens(to, amount) {
      const operator = createWalletClient({
        account: privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY),
        chain: { ...foundry, id: 31337 },
        transport: http(anvil.rpcUrl),
      });
      const hash = await operator.writeContract({
        address: deployment.contracts.PaymentToken.address,
        abi: paymentTokenAbi,
        functionName: "mint",
        args: [to, amount],
      });
      await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    },
    rpc: (method, params = []) => client.request({ method: method as never, params: params as never }),
    async close() {
      for (const relayer of relayers) await relayer.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      const keys = await redis.keys(`${redisPrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await database.drop();
      await anvil.stop();
    },
  };
}
