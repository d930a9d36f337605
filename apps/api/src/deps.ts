import { type Config, createLogger, type Logger } from "@certchain/common";
import { type Deployment, readDeployment } from "@certchain/contracts";
import type { Db } from "@certchain/db";
import { createPublicClient, http } from "viem";
import { createHeadReader } from "./chain/head.ts";
import type { ApiDeps } from "./context.ts";

export type ApiDepsOptions = {
  logger?: Logger;
  /** The contracts to talk to; by default `deployments/<CHAIN_ID>.json`. */
  deployment?: Deployment;
};

/** Builds the API's dependencies from its configuration and an open database (shared by `main.ts` and tests). */
export function createApiDeps(config: Config, db: Db, options: ApiDepsOptions = {}): ApiDeps {
  const client = createPublicClient({ transport: http(config.ethNodeUrl, { retryCount: 1, timeout: 5_000 }) });
  const deployment = options.deployment ?? readDeployment(config.chainId);
  return {
    config,
    db,
    logger: options.logger ?? createLogger(config, "api"),
    head: createHeadReader(client),
    chain: { client, contracts: deployment.contracts },
  };
}
