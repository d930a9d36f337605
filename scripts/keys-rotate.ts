/**
 * `npm run keys:rotate`: re-encrypts every custodial wallet key not yet under the current master key
 * (`MASTER_KEY`, version `MASTER_KEY_VERSION`), reading the old ones with `MASTER_KEYS_PREVIOUS`.
 *
 * No downtime: every process configured with both keys reads either version while this runs, and each row is swapped
 * by one conditional UPDATE (`… WHERE address = ? AND key_version = <old>`), so a row is never half-written and a
 * second run, or a concurrent one, skips what is done. Plaintext keys exist only in this process's memory.
 */
import { loadConfig, runMain, UserFacingError } from "@certchain/common";
import { createDb, wallets } from "@certchain/db";
import { decryptWalletKey, encryptWalletKey, WalletKeyError } from "@certchain/queue";
import { and, asc, eq, gt, ne } from "drizzle-orm";

const BATCH = 200;

runMain("keys:rotate", async () => {
  const config = loadConfig();
  const version = config.masterKeyVersion;
  const database = createDb(config.databaseUrl, { poolSize: 2 });
  let rotated = 0;
  const unreadable: string[] = [];
  try {
    let after = "";
    for (;;) {
      const rows = await database.db
        .select()
        .from(wallets)
        .where(and(ne(wallets.keyVersion, version), gt(wallets.address, after as `0x${string}`)))
        .orderBy(asc(wallets.address))
        .limit(BATCH);
      if (rows.length === 0) break;
      for (const row of rows) {
        let privateKey: `0x${string}`;
        try {
          privateKey = decryptWalletKey(row, config.masterKeys);
        } catch (error) {
          if (!(error instanceof WalletKeyError)) throw error;
          unreadable.push(error.message);
          continue;
        }
        const next = encryptWalletKey(privateKey, row.address, config.masterKey, version);
        const [result] = await database.db
          .update(wallets)
          .set(next)
          .where(and(eq(wallets.address, row.address), eq(wallets.keyVersion, row.keyVersion)));
        if (result.affectedRows === 1) rotated++;
      }
      after = rows[rows.length - 1]?.address ?? after;
    }
  } finally {
    await database.close();
  }
  console.log(`keys:rotate: ${rotated} wallet keys re-encrypted under key version ${version}`);
  if (unreadable.length > 0) {
    throw new UserFacingError(
      `${unreadable.length} wallet keys could not be read (add their key version to MASTER_KEYS_PREVIOUS): ${unreadable.slice(0, 3).join("; ")}`,
    );
  }
});
