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

const emptyAsUndefined = (value: unknown) => (value === "" ? undefined : value);

const envSchema = z
  .object({
    NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    DATABASE_URL: url(["mysql:", "mariadb:"]).default("mysql://root@127.0.0.1:3306/certchain"),
    REDIS_URL: url(["redis:", "rediss:"]).default("redis://127.0.0.1:6379"),
    ETH_NODE_URL: url(["http:", "https:"]).default("http://127.0.0.1:8545"),
    ETH_WS_URL: z.preprocess(emptyAsUndefined, url(["ws:", "wss:"]).optional()),
    CHAIN_ID: z.coerce.number({ error: "must be a chain id" }).int().positive().default(31337),
    API_PORT: port.default(3000),
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
    OPERATOR_PRIVATE_KEY: z.preprocess(
      emptyAsUndefined,
      z.string().regex(hex32, "must be a 32-byte private key as 0x + 64 hex characters").optional(),
    ),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== "production") return;
    if (!env.MASTER_KEY) ctx.addIssue({ code: "custom", path: ["MASTER_KEY"], message: "is required in production" });
    if (!env.OPERATOR_PRIVATE_KEY)
      ctx.addIssue({ code: "custom", path: ["OPERATOR_PRIVATE_KEY"], message: "is required in production" });
  });

type Hex = `0x${string}`;

export type Config = {
  nodeEnv: "development" | "test" | "production";
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  databaseUrl: string;
  redisUrl: string;
  ethNodeUrl: string;
  ethWsUrl: string | undefined;
  chainId: number;
  apiPort: number;
  indexerPort: number;
  relayerPort: number;
  /** Blocks behind the head after which the indexer treats a block as final (the reorg window). */
  finalityDepth: number;
  /** 32-byte key-encryption key for custodial wallet keys. */
  masterKey: Hex;
  /** True when `masterKey` is the development placeholder, so callers can warn. */
  masterKeyIsDevelopmentDefault: boolean;
  operatorPrivateKey: Hex;
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
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    ethNodeUrl: env.ETH_NODE_URL,
    ethWsUrl: env.ETH_WS_URL,
    chainId: env.CHAIN_ID,
    apiPort: env.API_PORT,
    indexerPort: env.INDEXER_PORT,
    relayerPort: env.RELAYER_PORT,
    finalityDepth: env.FINALITY_DEPTH,
    masterKey: withPrefix(env.MASTER_KEY ?? DEVELOPMENT_MASTER_KEY),
    masterKeyIsDevelopmentDefault: env.MASTER_KEY === undefined,
    operatorPrivateKey: withPrefix(env.OPERATOR_PRIVATE_KEY ?? ANVIL_ACCOUNT_0_PRIVATE_KEY),
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
