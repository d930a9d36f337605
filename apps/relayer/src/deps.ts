import type { Config, Logger } from "@certchain/common";
import type { Deployment } from "@certchain/contracts";
import type { Db } from "@certchain/db";
import type { TxRequestProducer } from "@certchain/queue";
import type { RelayerChain } from "./chain.ts";
import type { RelayerMetrics } from "./metrics.ts";
import type { NonceReservations } from "./nonces.ts";
import type { TxRequestStore } from "./requests.ts";
import type { Signers } from "./signers.ts";

/** The one dependency bag every step of the relayer receives. */
export type RelayerDeps = {
  config: Pick<
    Config,
    | "nodeEnv"
    | "finalityDepth"
    | "relayerPollMs"
    | "relayerReplaceAfterMs"
    | "relayerMaxFeePerGasWei"
    | "relayerConcurrency"
    | "relayerJobLockMs"
  >;
  logger: Logger;
  db: Db;
  chain: RelayerChain;
  deployment: Deployment;
  signers: Signers;
  store: TxRequestStore;
  nonces: NonceReservations;
  /** For the relayer's own requests: development funding of custodial wallets. */
  producer: TxRequestProducer;
  metrics: RelayerMetrics;
  /** Enqueues jobs for requests the relayer created in MySQL (gap fillers). */
  enqueue(requestIds: string[]): Promise<void>;
};
