/**
 * `npm run keys:rotate`: re-encrypts every custodial wallet key and every API key secret not yet under the current
 * master key (`MASTER_KEY`, version `MASTER_KEY_VERSION`), reading the old ones with `MASTER_KEYS_PREVIOUS`.
 *
 * No downtime: every process configured with both keys reads either version while this runs, and each row is swapped
 * by one conditional UPDATE (`… WHERE address = ? AND key_version = <old>`), so a row is never half-written and a
 * second run, or a concurrent one, skips what is done. Plaintext keys exist only in this process's memory.
 */
import { loadConfig, runMain, UserFacingError } from "@certchain/common";
import { apiKeys, createDb, type Db, type Hex, wallets } from "@certchain/db";
import {
  ApiKeySecretError,
  decryptApiKeySecret,
  decryptWalletKey,
  encryptApiKeySecret,
  encryptWalletKey,
  type MasterKeys,
  WalletKeyError,
} from "@certchain/queue";
import { and, asc, eq, gt, ne } from "drizzle-orm";

const BATCH = 200;

type Rotation = { rotated: number; unreadable: string[] };
type Keys = { masterKey: Hex; version: number; masterKeys: MasterKeys };

async function rotateWallets(db: Db, { masterKey, version, masterKeys }: Keys): Promise<Rotation> {
  const result: Rotation = { rotated: 0, unreadable: [] };
  let after = "";
  for (;;) {
    const rows = await db
      .select()
      .from(wallets)
      .where(and(ne(wallets.keyVersion, version), gt(wallets.address, after as `0x${string}`)))
      .orderBy(asc(wallets.address))
      .limit(BATCH);
    if (rows.length === 0) break;
    for (const row of rows) {
      let privateKey: `0x${string}`;
      try {
        privateKey = decryptWalletKey(row, masterKeys);
      } catch (error) {
        if (!(error instanceof WalletKeyError)) throw error;
        result.unreadable.push(error.message);
        continue;
      }
      const next = encryptWalletKey(privateKey, row.address, masterKey, version);
      const [update] = await db
        .update(wallets)
        .set(next)
        .where(and(eq(wallets.address, row.address), eq(wallets.keyVersion, row.keyVersion)));
      if (update.affectedRows === 1) result.rotated++;
    }
    after = rows[rows.length - 1]?.address ?? after;
  }
  return result;
}

async function rotateApiKeySecrets(db: Db, { masterKey, version, masterKeys }: Keys): Promise<Rotation> {
  const result: Rotation = { rotated: 0, unreadable: [] };
  let after = "";
  for (;;) {
    const rows = await db
      .select({
        keyId: apiKeys.keyId,
        encryptedSecret: apiKeys.encryptedSecret,
        iv: apiKeys.iv,
        authTag: apiKeys.authTag,
        keyVersion: apiKeys.keyVersion,
      })
      .from(apiKeys)
      .where(and(ne(apiKeys.keyVersion, version), gt(apiKeys.keyId, after)))
      .orderBy(asc(apiKeys.keyId))
      .limit(BATCH);
    if (rows.length === 0) break;
    for (const row of rows) {
      let secret: string;
      try {
        secret = decryptApiKeySecret(row, masterKeys);
      } catch (error) {
        if (!(error instanceof ApiKeySecretError)) throw error;
        result.unreadable.push(error.message);
        continue;
      }
      const [update] = await db
        .update(apiKeys)
        .set(encryptApiKeySecret(secret, row.keyId, masterKey, version))
        .where(and(eq(apiKeys.keyId, row.keyId), eq(apiKeys.keyVersion, row.keyVersion)));
      if (update.affectedRows === 1) result.rotated++;
    }
    after = rows[rows.length - 1]?.keyId ?? after;
  }
  return result;
}

runMain("keys:rotate", async () => {
  const config = loadConfig();
  const keys: Keys = { masterKey: config.masterKey, version: config.masterKeyVersion, masterKeys: config.masterKeys };
  const database = createDb(config.databaseUrl, { poolSize: 2 });
  let walletKeys: Rotation;
  let apiKeySecrets: Rotation;
  try {
    walletKeys = await rotateWallets(database.db, keys);
    apiKeySecrets = await rotateApiKeySecrets(database.db, keys);
  } finally {
    await database.close();
  }
  const counted = (rotation: (r: Rotation) => number) =>
    `${rotation(walletKeys)} wallet keys and ${rotation(apiKeySecrets)} API key secrets`;
  console.log(`keys:rotate: ${counted((r) => r.rotated)} re-encrypted under key version ${keys.version}`);
  const unreadable = [...walletKeys.unreadable, ...apiKeySecrets.unreadable];
  if (unreadable.length > 0) {
    throw new UserFacingError(
      `${counted((r) => r.unreadable.length)} could not be read (add their key version to MASTER_KEYS_PREVIOUS): ${unreadable.slice(0, 3).join("; ")}`,
    );
  }
});
