import { describe, expect, test } from "vitest";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, ConfigError, loadConfig } from "../src/config.ts";

describe("loadConfig", () => {
  test("default: an empty environment gives the documented local-development values", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: "development",
      databaseUrl: "mysql://root@127.0.0.1:3306/certchain",
      redisUrl: "redis://127.0.0.1:6379",
      ethNodeUrl: "http://127.0.0.1:8545",
      ethWsUrl: undefined,
      chainId: 31337,
      apiPort: 3000,
      indexerPort: 3001,
      relayerPort: 3002,
      finalityDepth: 12,
      operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
      masterKeyIsDevelopmentDefault: true,
      redisPrefix: "certchain",
      deploymentsDir: undefined,
      relayerConcurrency: 50,
      relayerPollMs: 1000,
      relayerReplaceAfterMs: 60_000,
      relayerMaxFeePerGasWei: 500_000_000_000n,
      relayerJobLockMs: 30_000,
    });
  });

  test("behavior: relayer settings are read and coerced", () => {
    const config = loadConfig({
      REDIS_PREFIX: "test:42:ab",
      DEPLOYMENTS_DIR: "/tmp/deployments",
      RELAYER_CONCURRENCY: "8",
      RELAYER_POLL_MS: "200",
      RELAYER_REPLACE_AFTER_MS: "1500",
      RELAYER_MAX_FEE_PER_GAS_WEI: "1000000000000",
      RELAYER_JOB_LOCK_MS: "2000",
    });
    expect(config).toMatchObject({
      redisPrefix: "test:42:ab",
      deploymentsDir: "/tmp/deployments",
      relayerConcurrency: 8,
      relayerPollMs: 200,
      relayerReplaceAfterMs: 1500,
      relayerMaxFeePerGasWei: 1_000_000_000_000n,
      relayerJobLockMs: 2000,
    });
  });

  test("behavior: numbers are coerced and keys get a 0x prefix", () => {
    const config = loadConfig({
      API_PORT: "8080",
      CHAIN_ID: "11155111",
      FINALITY_DEPTH: "64",
      MASTER_KEY: "ab".repeat(32),
    });
    expect(config.apiPort).toBe(8080);
    expect(config.chainId).toBe(11155111);
    expect(config.finalityDepth).toBe(64);
    expect(config.masterKey).toBe(`0x${"ab".repeat(32)}`);
    expect(config.masterKeyIsDevelopmentDefault).toBe(false);
  });

  test("behavior: the API's public origin follows API_PORT by default and drops any path", () => {
    expect(loadConfig({ API_PORT: "8080" }).apiPublicUrl).toBe("http://localhost:8080");
    expect(loadConfig({ API_PUBLIC_URL: "https://API.example.org/trpc/" }).apiPublicUrl).toBe(
      "https://api.example.org",
    );
  });

  test("behavior: an empty optional variable counts as unset", () => {
    expect(loadConfig({ ETH_WS_URL: "", MASTER_KEY: "" }).ethWsUrl).toBeUndefined();
  });

  test.each([
    ["DATABASE_URL", "nonsense", "DATABASE_URL must be a mysql:// or mariadb:// URL"],
    ["DATABASE_URL", "postgres://localhost/x", "DATABASE_URL must be a mysql:// or mariadb:// URL"],
    ["REDIS_URL", "localhost:6379", "REDIS_URL must be a redis:// or rediss:// URL"],
    ["ETH_NODE_URL", "ws://127.0.0.1:8545", "ETH_NODE_URL must be a http:// or https:// URL"],
    ["ETH_WS_URL", "http://127.0.0.1:8545", "ETH_WS_URL must be a ws:// or wss:// URL"],
    ["API_PORT", "eighty", "API_PORT must be a port number"],
    ["API_PUBLIC_URL", "api.example.org", "API_PUBLIC_URL must be a http:// or https:// URL"],
    ["INDEXER_PORT", "70000", "INDEXER_PORT must be between 1 and 65535"],
    ["FINALITY_DEPTH", "0", "FINALITY_DEPTH must be at least 1 block"],
    ["CHAIN_ID", "-1", "CHAIN_ID"],
    ["NODE_ENV", "staging", "NODE_ENV"],
    ["OPERATOR_PRIVATE_KEY", "0x1234", "OPERATOR_PRIVATE_KEY must be a 32-byte private key"],
    ["REDIS_PREFIX", "a b", "REDIS_PREFIX must be letters, digits"],
    ["RELAYER_CONCURRENCY", "0", "RELAYER_CONCURRENCY must be at least 1"],
    ["RELAYER_POLL_MS", "soon", "RELAYER_POLL_MS must be a number of milliseconds"],
    ["RELAYER_MAX_FEE_PER_GAS_WEI", "-5", "RELAYER_MAX_FEE_PER_GAS_WEI must be a positive amount in wei"],
    ["RELAYER_JOB_LOCK_MS", "10", "RELAYER_JOB_LOCK_MS must be at least 1000 milliseconds"],
    ["DB_POOL_SIZE", "0", "DB_POOL_SIZE must be at least 1"],
    ["DB_POOL_SIZE", "5000", "DB_POOL_SIZE must be at most 1000 connections"],
    ["DB_SLOW_QUERY_MS", "-1", "DB_SLOW_QUERY_MS must be 0 (off) or more"],
    ["API_DB_TIMEOUT_MS", "3600001", "API_DB_TIMEOUT_MS must be at most 3600000 (an hour)"],
    ["HTTP_REDIRECT_PORT", "8080", "HTTP_REDIRECT_PORT redirects to HTTPS, so it needs TLS_CERT_FILE and TLS_KEY_FILE"],
  ])("error: %s=%s names the variable in one line", (name, value, expected) => {
    const attempt = () => loadConfig({ [name]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(expected);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain("\n");
    }
  });

  test("error: every wrong variable is reported together", () => {
    expect(() => loadConfig({ DATABASE_URL: "x", API_PORT: "y" })).toThrow(/DATABASE_URL .*; API_PORT /);
  });

  test("error: production requires its own keys", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(
      "Invalid configuration: MASTER_KEY is required in production; OPERATOR_PRIVATE_KEY is required in production",
    );
  });

  test("error: production refuses the public development keys even when set explicitly", () => {
    const attempt = () =>
      loadConfig({
        NODE_ENV: "production",
        MASTER_KEY: "0".repeat(64),
        OPERATOR_PRIVATE_KEY: ANVIL_ACCOUNT_0_PRIVATE_KEY.toUpperCase().replace("0X", "0x"),
      });
    expect(attempt).toThrow("MASTER_KEY must not be the public development value in production");
    expect(attempt).toThrow("OPERATOR_PRIVATE_KEY must not be the public development value in production");
    expect(() =>
      loadConfig({ NODE_ENV: "production", MASTER_KEY: "ab".repeat(32), OPERATOR_PRIVATE_KEY: `0x${"cd".repeat(32)}` }),
    ).not.toThrow();
  });

  test("default: uploads up to 10 MiB of PDF, PNG, JPEG or JSON, stored under .certchain/storage", () => {
    const config = loadConfig({});
    expect(config.uploadMaxBytes).toBe(10 * 1024 * 1024);
    expect(config.uploadAllowedTypes).toEqual(["application/pdf", "image/png", "image/jpeg", "application/json"]);
    expect(config.storageDir).toMatch(/\.certchain\/storage$/);
    expect(config.ipfsApiUrl).toBeUndefined();
  });

  test("error: a malformed type list or upload limit names the variable", () => {
    expect(() => loadConfig({ UPLOAD_ALLOWED_TYPES: "pdf, png" })).toThrow(
      "UPLOAD_ALLOWED_TYPES must be a comma-separated list",
    );
    expect(() => loadConfig({ UPLOAD_MAX_BYTES: "0" })).toThrow("UPLOAD_MAX_BYTES must be at least 1");
    expect(() => loadConfig({ IPFS_API_URL: "ipfs://node" })).toThrow("IPFS_API_URL must be a http:// or https:// URL");
  });

  test("error: a secret's value is never echoed back", () => {
    const secret = "not-a-key-but-private";
    expect(() => loadConfig({ OPERATOR_PRIVATE_KEY: secret })).toThrow(ConfigError);
    try {
      loadConfig({ OPERATOR_PRIVATE_KEY: secret, MASTER_KEY: secret });
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
  });
});
