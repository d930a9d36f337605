import { type Config, createLogger, type Logger } from "@certchain/common";
import type { Db } from "@certchain/db";
import { createPublicClient, http } from "viem";
import { createHeadReader } from "./chain/head.ts";
import type { ApiDeps } from "./context.ts";

/** Builds the API's dependencies from its configuration and an open database (shared by `main.ts` and tests). */
export function createApiDeps(config: Config, db: Db, logger: Logger = createLogger(config, "api")): ApiDeps {
  const publicClient = createPublicClient({ transport: http(config.ethNodeUrl, { retryCount: 1, timeout: 5_000 }) });
  return { config, db, logger, head: createHeadReader(publicClient) };
}
