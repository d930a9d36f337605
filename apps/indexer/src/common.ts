import type { Config, Logger, Shutdown } from "@certchain/common";
import type { IndexerMetrics } from "./metrics.ts";

/** The one dependency bag every part of the indexer receives; nothing is global. */
export type Common = {
  config: Pick<
    Config,
    "databaseUrl" | "ethNodeUrl" | "ethWsUrl" | "chainId" | "finalityDepth" | "dbPoolSize" | "dbSlowQueryMs"
  >;
  logger: Logger;
  metrics: IndexerMetrics;
  /** Every long-lived resource registers its cleanup here. */
  shutdown: Shutdown;
};
