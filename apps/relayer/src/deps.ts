import type { Config, Logger } from "@certchain/common";
import type { Deployment } from "@certchain/contracts";
import type { Db } from "@certchain/db";
import type { TxRequestProducer } from "@certchain/queue";
import type { BlockRecords } from "./block-records.ts";
import type { RelayerChain } from "./chain.ts";
import type { Leases } from "./leases.ts";
import type { RelayerMetrics } from "./metrics.ts";
import type { NonceReservations } from "./nonces.ts";
import type { TxRequestBatches } from "./request-batches.ts";
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
  /** A wallet batch's multi-row writes: signatures, broadcasts. */
  batches: TxRequestBatches;
  /** The block follower's multi-row writes: mined, reorged, final. */
  blocks: BlockRecords;
  nonces: NonceReservations;
  /** Which process sends for a wallet, which one follows blocks. */
  leases: Leases;
  /** For the relayer's own requests: development funding of custodial wallets. */
  producer: TxRequestProducer;
  metrics: RelayerMetrics;
  /** Adds jobs for requests the relayer created or re-queued in MySQL (gap fillers, lost nonces). */
  enqueue(requests: Array<{ requestId: string; kind: string }>): Promise<void>;
};
