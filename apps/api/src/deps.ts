import { join } from "node:path";
import { type Config, createLogger, type Logger, repoRoot } from "@certchain/common";
import { type Deployment, readDeployment } from "@certchain/contracts";
import type { Db } from "@certchain/db";
import { type ContentStore, createContentStore } from "@certchain/storage";
import { createPublicClient, http } from "viem";
import { createHeadReader } from "./chain/head.ts";
import type { ApiDeps } from "./context.ts";

export type ApiDepsOptions = {
  logger?: Logger;
  /** The contracts to talk to; by default `deployments/<CHAIN_ID>.json`. */
  deployment?: Deployment;
  /** Documents and metadata by CID; by default a store under `.certchain/storage`. */
  storage?: ContentStore;
};

/** Builds the API's dependencies from its configuration and an open database (shared by `main.ts` and tests). */
export async function createApiDeps(config: Config, db: Db, options: ApiDepsOptions = {}): Promise<ApiDeps> {
  const client = createPublicClient({ transport: http(config.ethNodeUrl, { retryCount: 1, timeout: 5_000 }) });
  const deployment = options.deployment ?? readDeployment(config.chainId);
  return {
    config,
    db,
    logger: options.logger ?? createLogger(config, "api"),
    head: createHeadReader(client),
    chain: { client, contracts: deployment.contracts },
    storage: options.storage ?? (await createContentStore({ directory: join(repoRoot, ".certchain", "storage") })),
  };
}
