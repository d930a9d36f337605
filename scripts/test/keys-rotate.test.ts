import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@certchain/common";
import { apiKeys, parseDatabaseUrl, users, wallets } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { decryptApiKeySecret, decryptWalletKey, encryptApiKeySecret, generateCustodialWallet } from "@certchain/queue";
import { privateKeyToAddress } from "viem/accounts";
import { afterAll, beforeAll, expect, test } from "vitest";

/**
 * `npm run keys:rotate` as an operator runs it mid-rotation: wallets and API key secrets encrypted under the old
 * master key end up under the new one, each still opening to the same private key or secret; the old key alone no
 * longer opens them; and at no point does the database (read as a dump) hold a private key or secret in the clear.
 */
const OLD = `0x${"11".repeat(32)}` as const;
const NEW = `0x${"22".repeat(32)}` as const;
let database: TestDatabase;
const plaintextKeys: string[] = [];
const apiKeySecrets = new Map<string, string>();

beforeAll(async () => {
  database = await createTestDatabase();
  for (let i = 0; i < 3; i++) {
    const [{ insertId }] = await database.db
      .insert(users)
      .values({ username: `rotate_${i}`, email: `rotate_${i}@example.org`, passwordHash: "x" });
    const wallet = generateCustodialWallet(OLD, 1);
    await database.db.insert(wallets).values({ userId: insertId, ...wallet });
    plaintextKeys.push(decryptWalletKey(wallet, new Map([[1, OLD]])));
  }
  const [owner] = await database.db.select().from(users).limit(1);
  for (const [keyId, secret] of [
    ["ck_rotaterotaterotateaa", "cks_first-secret-that-must-never-leak-0000000000"],
    ["ck_rotaterotaterotatebb", "cks_second-secret-that-must-never-leak-000000000"],
  ] as const) {
    apiKeySecrets.set(keyId, secret);
    await database.db.insert(apiKeys).values({
      keyId,
      userId: owner?.id ?? 0,
      name: `rotation ${keyId}`,
      scopes: ["read"],
      ...encryptApiKeySecret(secret, keyId, OLD, 1),
    });
  }
});
afterAll(() => database.drop());

function rotate(env: Record<string, string>) {
  const result = spawnSync(join(repoRoot, "node_modules/.bin/tsx"), ["scripts/keys-rotate.ts"], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: database.url, ...env },
  });
  return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

test("error: without the old key configured, the rows it encrypted are reported in one line and left as they are", async () => {
  const result = rotate({ MASTER_KEY: NEW, MASTER_KEY_VERSION: "2", MASTER_KEYS_PREVIOUS: "" });
  expect(result.code).toBe(1);
  expect(result.stderr.split("\n")).toHaveLength(1);
  expect(result.stderr).toMatch(
    /3 wallet keys and 2 API key secrets could not be read \(add their key version to MASTER_KEYS_PREVIOUS\)/,
  );
  const rows = await database.db.select().from(wallets);
  expect(rows.every((row) => row.keyVersion === 1)).toBe(true);
  const keyRows = await database.db.select().from(apiKeys);
  expect(keyRows.every((row) => row.keyVersion === 1)).toBe(true);
});

test("default: every wallet key and API key secret moves to the new version and still opens to the same plaintext", async () => {
  const result = rotate({ MASTER_KEY: NEW, MASTER_KEY_VERSION: "2", MASTER_KEYS_PREVIOUS: `1:${OLD}` });
  expect(result).toMatchObject({
    code: 0,
    stdout: "keys:rotate: 3 wallet keys and 2 API key secrets re-encrypted under key version 2",
  });
  const rows = await database.db.select().from(wallets);
  for (const row of rows) {
    expect(row.keyVersion).toBe(2);
    const key = decryptWalletKey(row, new Map([[2, NEW]]));
    expect(privateKeyToAddress(key).toLowerCase()).toBe(row.address);
    expect(plaintextKeys).toContain(key);
    // The old master key no longer opens it, even claiming the old version.
    expect(() => decryptWalletKey({ ...row, keyVersion: 1 }, new Map([[1, OLD]]))).toThrow(/does not decrypt/);
  }
  for (const row of await database.db.select().from(apiKeys)) {
    expect(row.keyVersion).toBe(2);
    expect(decryptApiKeySecret(row, new Map([[2, NEW]]))).toBe(apiKeySecrets.get(row.keyId));
    expect(() => decryptApiKeySecret({ ...row, keyVersion: 1 }, new Map([[1, OLD]]))).toThrow(/does not decrypt/);
  }
  // Nothing left to do: a second run changes nothing.
  const again = rotate({ MASTER_KEY: NEW, MASTER_KEY_VERSION: "2", MASTER_KEYS_PREVIOUS: `1:${OLD}` });
  expect(again.stdout).toBe("keys:rotate: 0 wallet keys and 0 API key secrets re-encrypted under key version 2");
});

test("behavior: a dump of the database never contains a private key or API key secret in the clear", () => {
  const target = parseDatabaseUrl(database.url);
  const dump = execFileSync(
    "mariadb-dump",
    [`--host=${target.host}`, `--port=${target.port}`, `--user=${target.user}`, "--hex-blob", database.name],
    { env: { ...process.env, MYSQL_PWD: target.password }, maxBuffer: 64 * 1024 * 1024 },
  );
  const text = dump.toString("latin1").toLowerCase();
  for (const key of plaintextKeys) {
    const hex = key.slice(2).toLowerCase();
    expect(text).not.toContain(hex);
    expect(dump.includes(Buffer.from(hex, "hex"))).toBe(false);
  }
  for (const secret of apiKeySecrets.values()) {
    expect(text).not.toContain(secret.toLowerCase());
    expect(text).not.toContain(Buffer.from(secret).toString("hex"));
  }
});
