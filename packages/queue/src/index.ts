export {
  ApiKeySecretError,
  decryptApiKeySecret,
  type EncryptedApiKeySecret,
  encryptApiKeySecret,
} from "./api-key-secrets.ts";
export {
  CACHE_NAMESPACES,
  type CacheInvalidation,
  type CacheInvalidator,
  type CacheNamespace,
  cacheInvalidationChannel,
  cacheKeys,
  createCacheInvalidator,
  isEmptyInvalidation,
  parseCacheInvalidation,
} from "./cache-invalidation.ts";
export { TX_REQUEST_JOB_OPTIONS, TX_REQUESTS_QUEUE, type TxRequestJobData, txStatusChannel } from "./names.ts";
export {
  type ParsedTxRequest,
  parseTxRequestPayload,
  type TxRequestInput,
  type TxRequestPayloads,
  txRequestPayloads,
} from "./payloads.ts";
export {
  createTxRequestProducer,
  FINAL_TX_REQUEST_STATUSES,
  LIVE_TX_REQUEST_STATUSES,
  type SubmitTxRequest,
  type SubmittedTxRequest,
  TxRequestDependencyError,
  type TxRequestProducer,
  UNSENT_TX_REQUEST_STATUSES,
} from "./producer.ts";
export { assertNoEviction, createFailFastRedis, createRedis } from "./redis.ts";
export { parseTxStatusEvent, type TxStatusEvent } from "./status.ts";
export {
  decryptWalletKey,
  type EncryptedWalletKey,
  encryptWalletKey,
  generateCustodialWallet,
  type MasterKeys,
  WalletKeyError,
} from "./wallet-keys.ts";
