import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/**
 * The one module that reads `process.env`. Every process calls `loadConfig()` at start-up and passes the
 * result down; nothing else looks at the environment.
 */

/** anvil's first dev account: public knowledge, accepted as a default outside production only. */
export const ANVIL_ACCOUNT_0_PRIVATE_KEY =
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" as const;

/** Development-only key-encryption key, so a fresh clone runs; production must set its own. */
const DEVELOPMENT_MASTER_KEY = "0".repeat(64);

const hex32 = /^(0x)?[0-9a-fA-F]{64}$/;

const port = z.coerce
  .number({ error: "must be a port number" })
  .int("must be a whole number")
  .min(1, "must be between 1 and 65535")
  .max(65535, "must be between 1 and 65535");

const url = (protocols: readonly string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { error: `must be a ${protocols.map((p) => `${p}//`).join(" or ")} URL` },
  );

const positiveInt = (unit: string) =>
  z.coerce
    .number({ error: `must be a number of ${unit}` })
    .int(`must be a whole number of ${unit}`)
    .min(1, `must be at least 1`);

/** A read cache's TTL: 0 turns the cache off; at most a minute (see CACHE_COUNTER_TTL_MS in @certchain/queue). */
const cacheTtl = z.coerce
  .number({ error: "must be a number of milliseconds" })
  .int("must be a whole number of milliseconds")
  .min(0, "must be 0 (off) or more")
  .max(60_000, "must be at most 60000 milliseconds");

const emptyAsUndefined = (value: unknown) => (value === "" ? undefined : value);

/** `http(s)://<public key>@<host>[:port]/[path/]<project id>`, the shape Sentry gives a project's DSN. */
const isSentryDsn = (value: string) => {
  try {
    const dsn = new URL(value);
    return ["http:", "https:"].includes(dsn.protocol) && dsn.username !== "" && /\/[^/]+$/.test(dsn.pathname);
  } catch {
    return false;
  }
};

const envSchema = z
  .object({
    NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    LOG_DIR: z.preprocess(emptyAsUndefined, z.string().optional()),
    SENTRY_DSN: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .refine(isSentryDsn, { error: "must be a Sentry DSN such as https://<key>@<host>/<project id>" })
        .optional(),
    ),
    SENTRY_ENVIRONMENT: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .regex(/^[^\s/]{1,64}$/, "must be at most 64 characters, without spaces or slashes")
        .optional(),
    ),
    DATABASE_URL: url(["mysql:", "mariadb:"]).default("mysql://root@127.0.0.1:3306/certchain"),
    REDIS_URL: url(["redis:", "rediss:"]).default("redis://127.0.0.1:6379"),
    ETH_NODE_URL: url(["http:", "https:"]).default("http://127.0.0.1:8545"),
    ETH_WS_URL: z.preprocess(emptyAsUndefined, url(["ws:", "wss:"]).optional()),
    CHAIN_ID: z.coerce.number({ error: "must be a chain id" }).int().positive().default(31337),
    API_PORT: port.default(3000),
    API_PUBLIC_URL: z.preprocess(emptyAsUndefined, url(["http:", "https:"]).optional()),
    INDEXER_PORT: port.default(3001),
    RELAYER_PORT: port.default(3002),
    FINALITY_DEPTH: z.coerce
      .number({ error: "must be a number of blocks" })
      .int("must be a whole number of blocks")
      .min(1, "must be at least 1 block")
      .max(10_000, "must be at most 10000 blocks")
      .default(12),
    MASTER_KEY: z.preprocess(
      emptyAsUndefined,
      z.string().regex(hex32, "must be 32 bytes as 64 hex characters").optional(),
    ),
    MASTER_KEY_VERSION: z.coerce
      .number({ error: "must be a key version number" })
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(1_000_000, "must be at most 1000000")
      .default(1),
    MASTER_KEYS_PREVIOUS: z
      .string()
      .default("")
      .refine(
        (value) => value === "" || value.split(",").every((entry) => /^\d+:(0x)?[0-9a-fA-F]{64}$/.test(entry.trim())),
        "must be a comma-separated list of <version>:<64 hex characters>",
      ),
    OPERATOR_PRIVATE_KEY: z.preprocess(
      emptyAsUndefined,
      z.string().regex(hex32, "must be a 32-byte private key as 0x + 64 hex characters").optional(),
    ),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)*$/, "must be letters, digits, '_', '-' and ':' separators")
      .default("certchain"),
    DEPLOYMENTS_DIR: z.preprocess(emptyAsUndefined, z.string().optional()),
    DB_POOL_SIZE: z.preprocess(
      emptyAsUndefined,
      positiveInt("connections").max(1000, "must be at most 1000 connections").optional(),
    ),
    DB_SLOW_QUERY_MS: z.coerce
      .number({ error: "must be a number of milliseconds" })
      .int("must be a whole number of milliseconds")
      .min(0, "must be 0 (off) or more")
      .default(500),
    // At most an hour: beyond that a request no longer waits for anything, and timers overflow past 24 days.
    API_DB_TIMEOUT_MS: positiveInt("milliseconds").max(3_600_000, "must be at most 3600000 (an hour)").default(10_000),
    RELAYER_CONCURRENCY: positiveInt("jobs").max(1000, "must be at most 1000 jobs").default(50),
    RELAYER_POLL_MS: positiveInt("milliseconds").default(1000),
    RELAYER_REPLACE_AFTER_MS: positiveInt("milliseconds").default(60_000),
    RELAYER_MAX_FEE_PER_GAS_WEI: z.coerce
      .bigint({ error: "must be an amount in wei" })
      .positive("must be a positive amount in wei")
      .default(500_000_000_000n),
    RELAYER_JOB_LOCK_MS: positiveInt("milliseconds").min(1000, "must be at least 1000 milliseconds").default(30_000),
    STORAGE_DIR: z.preprocess(emptyAsUndefined, z.string().optional()),
    IPFS_API_URL: z.preprocess(emptyAsUndefined, url(["http:", "https:"]).optional()),
    IPFS_API_TIMEOUT_MS: positiveInt("milliseconds").default(30_000),
    UPLOAD_MAX_BYTES: positiveInt("bytes")
      .max(1024 ** 3, "must be at most 1 GiB")
      .default(10 * 1024 * 1024),
    UPLOAD_ALLOWED_TYPES: z
      .string()
      .regex(
        /^[a-z0-9.+-]+\/[a-z0-9.+-]+(,[a-z0-9.+-]+\/[a-z0-9.+-]+)*$/,
        "must be a comma-separated list of media types",
      )
      .default("application/pdf,image/png,image/jpeg,application/json"),
    RATE_LIMIT_PER_MINUTE: positiveInt("requests").default(600),
    RATE_LIMIT_LOGIN_FAILURES: positiveInt("attempts").default(10),
    RATE_LIMIT_REGISTRATIONS_PER_HOUR: positiveInt("accounts").default(20),
    RATE_LIMIT_NONCES_PER_MINUTE: positiveInt("nonces").default(30),
    RATE_LIMIT_WHEN_REDIS_DOWN: z.enum(["open", "closed"], { error: "must be open or closed" }).default("open"),
    CORS_ORIGINS: z
      .string()
      .default("")
      .refine(
        (value) =>
          value === "" ||
          value.split(",").every((origin) => {
            try {
              return new URL(origin).origin === origin;
            } catch {
              return false;
            }
          }),
        "must be a comma-separated list of origins such as https://app.example.org (scheme, host, optional port)",
      ),
    TRUST_PROXY: z.coerce
      .number({ error: "must be the number of proxies in front of the API" })
      .int("must be a whole number of proxies")
      .min(0, "must be 0 or more")
      .max(10, "must be at most 10")
      .default(0),
    TLS_CERT_FILE: z.preprocess(emptyAsUndefined, z.string().optional()),
    TLS_KEY_FILE: z.preprocess(emptyAsUndefined, z.string().optional()),
    HTTP_REDIRECT_PORT: z.preprocess(emptyAsUndefined, port.optional()),
    CACHE_TTL_MS: cacheTtl.default(5_000),
    CACHE_BALANCE_TTL_MS: cacheTtl.default(2_000),
  })
  .superRefine((env, ctx) => {
    if ((env.TLS_CERT_FILE === undefined) !== (env.TLS_KEY_FILE === undefined)) {
      ctx.addIssue({ code: "custom", path: ["TLS_KEY_FILE"], message: "and TLS_CERT_FILE must be set together" });
    }
    if (env.HTTP_REDIRECT_PORT !== undefined && env.TLS_CERT_FILE === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["HTTP_REDIRECT_PORT"],
        message: "redirects to HTTPS, so it needs TLS_CERT_FILE and TLS_KEY_FILE",
      });
    }
    if (env.NODE_ENV !== "production") return;
    const requireSecret = (name: "MASTER_KEY" | "OPERATOR_PRIVATE_KEY", publicValue: string) => {
      const value = env[name];
      if (!value) ctx.addIssue({ code: "custom", path: [name], message: "is required in production" });
      // The development defaults are public knowledge; set explicitly they are no safer than unset.
      else if (withPrefix(value).toLowerCase() === publicValue) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "must not be the public development value in production",
        });
      }
    };
    requireSecret("MASTER_KEY", withPrefix(DEVELOPMENT_MASTER_KEY));
    requireSecret("OPERATOR_PRIVATE_KEY", ANVIL_ACCOUNT_0_PRIVATE_KEY);
  });

type Hex = `0x${string}`;

export type Config = {
  nodeEnv: "development" | "test" | "production";
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Log files go here, one per channel (see `createLogger`); stdout when unset. */
  logDir: string | undefined;
  /** Errors logged at level error or fatal are also sent here (see `error-tracking.ts`); nothing is sent when unset. */
  sentryDsn: string | undefined;
  /** The environment Sentry files those errors under; NODE_ENV when SENTRY_ENVIRONMENT is unset. */
  sentryEnvironment: string;
  databaseUrl: string;
  redisUrl: string;
  ethNodeUrl: string;
  ethWsUrl: string | undefined;
  chainId: number;
  apiPort: number;
  /**
   * The origin (`scheme://host[:port]`) clients reach the API at; `http://localhost:<API_PORT>` when unset. Sign-In
   * with Ethereum accepts only messages whose domain and URI name it.
   */
  apiPublicUrl: string;
  indexerPort: number;
  relayerPort: number;
  /** Blocks behind the head after which the indexer treats a block as final (the reorg window). */
  finalityDepth: number;
  /** 32-byte key-encryption key for custodial wallet keys. */
  masterKey: Hex;
  /** The version new custodial keys are encrypted under (`wallets.key_version`). */
  masterKeyVersion: number;
  /**
   * Every master key this process can decrypt with, by version: the current one and MASTER_KEYS_PREVIOUS, which keeps
   * old versions readable while `npm run keys:rotate` re-encrypts their rows.
   */
  masterKeys: ReadonlyMap<number, Hex>;
  /** True when `masterKey` is the development placeholder, so callers can warn. */
  masterKeyIsDevelopmentDefault: boolean;
  operatorPrivateKey: Hex;
  /** Namespace of every Redis key and channel (BullMQ queues, pub/sub), so several stacks can share one Redis. */
  redisPrefix: string;
  /** Where `<chainId>.json` deployments are read; `packages/contracts/deployments` when unset. */
  deploymentsDir: string | undefined;
  /** Most MySQL connections this process opens; each daemon has its own default when unset. */
  dbPoolSize: number | undefined;
  /** Queries slower than this are logged as warnings (the SQL, never its values); 0 turns it off. */
  dbSlowQueryMs: number;
  /**
   * API: longest wait for one database statement (and a new connection's handshake); past it the request answers 503
   * rather than hang on a server that stopped answering.
   */
  apiDbTimeoutMs: number;
  /** Relayer: jobs one process works on at once. */
  relayerConcurrency: number;
  /** Relayer: how often an in-flight request is checked for its receipt and confirmations. */
  relayerPollMs: number;
  /** Relayer: a broadcast not mined after this long is replaced with the same nonce and ≥ 10 % higher fees. */
  relayerReplaceAfterMs: number;
  /** Relayer: fee bumps never raise `maxFeePerGas` above this (wei). */
  relayerMaxFeePerGasWei: bigint;
  /** Relayer: BullMQ job lock; a killed process's jobs are picked up again after about this long. */
  relayerJobLockMs: number;
  /** Content store directory (blocks and content records); `.certchain/storage` in the repository when unset. */
  storageDir: string;
  /** Optional Kubo RPC API that pins every stored CID and serves blocks missing locally. */
  ipfsApiUrl: string | undefined;
  ipfsApiTimeoutMs: number;
  /** Largest document upload accepted, in bytes. */
  uploadMaxBytes: number;
  /** Media types accepted for documents, checked against the bytes, not the declared type. */
  uploadAllowedTypes: string[];
  /** API requests per minute per client IP and per session (a tRPC batch counts each call). */
  rateLimitPerMinute: number;
  /**
   * Failed logins on an account from one IP in 15 minutes before attempts from there wait; ten times as many from all
   * IPs lock the account for everyone, and ten times as many from one IP on any accounts in an hour lock the IP.
   */
  rateLimitLoginFailures: number;
  /** Accounts created per client IP per hour. */
  rateLimitRegistrationsPerHour: number;
  /** Sign-In with Ethereum nonces issued per client IP per minute (each is held in Redis for 5 minutes). */
  rateLimitNoncesPerMinute: number;
  /** When Redis cannot be asked: `open` serves requests unlimited, `closed` refuses them. Logins always fail closed. */
  rateLimitWhenRedisDown: "open" | "closed";
  /** Browser origins allowed to call the API cross-origin (CORS); none when empty. */
  corsOrigins: string[];
  /** Reverse proxies in front of the API whose `X-Forwarded-For` entries are trusted for the client IP; 0 = none. */
  trustProxy: number;
  /** With both set, the API serves HTTPS with this certificate and key (PEM files). */
  tls: { certFile: string; keyFile: string } | undefined;
  /** With TLS: a plain-HTTP port whose every request is redirected (308) to the same path over HTTPS. */
  httpRedirectPort: number | undefined;
  /**
   * API read caches (`certificates.get`, first pages of `market.listings`): how long an answer is reused, in this
   * process and through Redis, at most; the indexer invalidates changed rows sooner. 0 turns them off.
   */
  cacheTtlMs: number;
  /** The same for `account.balance`, read from the chain; 0 turns it off. */
  cacheBalanceTtlMs: number;
};

/** A configuration problem, phrased as one line that names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const withPrefix = (value: string): Hex => (value.startsWith("0x") ? value : `0x${value}`) as Hex;

/**
 * Validates the environment and returns the typed configuration. Throws `ConfigError` with one line naming every
 * wrong variable (never echoing secret values).
 */
export function loadConfig(source: Record<string, string | undefined> = readProcessEnv()): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${String(issue.path[0] ?? "environment")} ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  const env = parsed.data;
  return {
    nodeEnv: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    logDir: env.LOG_DIR,
    sentryDsn: env.SENTRY_DSN,
    sentryEnvironment: env.SENTRY_ENVIRONMENT ?? env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    ethNodeUrl: env.ETH_NODE_URL,
    ethWsUrl: env.ETH_WS_URL,
    chainId: env.CHAIN_ID,
    apiPort: env.API_PORT,
    apiPublicUrl: new URL(env.API_PUBLIC_URL ?? `http://localhost:${env.API_PORT}`).origin,
    indexerPort: env.INDEXER_PORT,
    relayerPort: env.RELAYER_PORT,
    finalityDepth: env.FINALITY_DEPTH,
    masterKey: withPrefix(env.MASTER_KEY ?? DEVELOPMENT_MASTER_KEY),
    masterKeyVersion: env.MASTER_KEY_VERSION,
    masterKeys: new Map<number, Hex>([
      ...(env.MASTER_KEYS_PREVIOUS === ""
        ? []
        : env.MASTER_KEYS_PREVIOUS.split(",").map((entry): [number, Hex] => {
            const [version, key] = entry.trim().split(":");
            return [Number(version), withPrefix(key ?? "")];
          })),
      [env.MASTER_KEY_VERSION, withPrefix(env.MASTER_KEY ?? DEVELOPMENT_MASTER_KEY)],
    ]),
    masterKeyIsDevelopmentDefault: env.MASTER_KEY === undefined,
    operatorPrivateKey: withPrefix(env.OPERATOR_PRIVATE_KEY ?? ANVIL_ACCOUNT_0_PRIVATE_KEY),
    redisPrefix: env.REDIS_PREFIX,
    deploymentsDir: env.DEPLOYMENTS_DIR,
    dbPoolSize: env.DB_POOL_SIZE,
    dbSlowQueryMs: env.DB_SLOW_QUERY_MS,
    apiDbTimeoutMs: env.API_DB_TIMEOUT_MS,
    relayerConcurrency: env.RELAYER_CONCURRENCY,
    relayerPollMs: env.RELAYER_POLL_MS,
    relayerReplaceAfterMs: env.RELAYER_REPLACE_AFTER_MS,
    relayerMaxFeePerGasWei: env.RELAYER_MAX_FEE_PER_GAS_WEI,
    relayerJobLockMs: env.RELAYER_JOB_LOCK_MS,
    storageDir: env.STORAGE_DIR ?? join(repoRoot, ".certchain", "storage"),
    ipfsApiUrl: env.IPFS_API_URL,
    ipfsApiTimeoutMs: env.IPFS_API_TIMEOUT_MS,
    uploadMaxBytes: env.UPLOAD_MAX_BYTES,
    uploadAllowedTypes: env.UPLOAD_ALLOWED_TYPES.split(","),
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    rateLimitLoginFailures: env.RATE_LIMIT_LOGIN_FAILURES,
    rateLimitRegistrationsPerHour: env.RATE_LIMIT_REGISTRATIONS_PER_HOUR,
    rateLimitNoncesPerMinute: env.RATE_LIMIT_NONCES_PER_MINUTE,
    rateLimitWhenRedisDown: env.RATE_LIMIT_WHEN_REDIS_DOWN,
    corsOrigins: env.CORS_ORIGINS === "" ? [] : env.CORS_ORIGINS.split(","),
    trustProxy: env.TRUST_PROXY,
    tls: env.TLS_CERT_FILE && env.TLS_KEY_FILE ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE } : undefined,
    httpRedirectPort: env.HTTP_REDIRECT_PORT,
    cacheTtlMs: env.CACHE_TTL_MS,
    cacheBalanceTtlMs: env.CACHE_BALANCE_TTL_MS,
  };
}

/** Finds the repository root (the directory holding `turbo.json`) from this file's location. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "turbo.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("certchain: could not find the repository root (turbo.json)");
    dir = parent;
  }
  return dir;
})();

/** `process.env`, after loading the repository's `.env` file if there is one (real environment wins). */
function readProcessEnv(): Record<string, string | undefined> {
  const dotenv = join(repoRoot, ".env");
  if (existsSync(dotenv)) process.loadEnvFile(dotenv);
  return process.env;
}
