export type { Common } from "./common.ts";
export { DeepReorgError, FatalError, LeaseLostError, RetryableError } from "./errors.ts";
export { createIndexer, type Indexer, type IndexerOptions, type IndexerStatus } from "./indexer.ts";
export { createMetrics, type IndexerMetrics } from "./metrics.ts";
export { createServerApp } from "./server.ts";
export { readIndexedRows } from "./store/store.ts";
