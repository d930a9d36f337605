export { runMain } from "./cli.ts";
export { ANVIL_ACCOUNT_0_PRIVATE_KEY, type Config, ConfigError, loadConfig, repoRoot } from "./config.ts";
export { ERROR_TRACKING_FLUSH_MS, flushErrorTracking } from "./error-tracking.ts";
export { systemErrorCode, UserFacingError } from "./errors.ts";
export { createLogger, type Logger } from "./logger.ts";
export { createShutdown, type Shutdown } from "./shutdown.ts";
