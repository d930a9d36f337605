import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@certchain/common";
import { certificates, indexerCursor, users, withDatabase } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { createConnection, type RowDataPacket } from "mysql2/promise";
import { afterAll, beforeAll, expect, test } from "vitest";

/**
 * `npm run db:backup` / `db:restore` as an operator runs them: a backup of a database holding rows and an indexer
 * cursor, restored into a scratch database, gives the same tables with the same rows (checked by count and checksum)
 * and the same cursor.
 */
let source: TestDatabase;
let scratch: string;
const restoredName = `certchain_restore_${randomBytes(4).toString("hex")}`;

function npmRun(script: string, args: string[], databaseUrl: string) {
  const result = spawnSync(join(repoRoot, "node_modules/.bin/tsx"), ["scripts/db-backup.ts", script, ...args], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

async function tableFacts(databaseUrl: string, name: string) {
  const connection = await createConnection(withDatabase(databaseUrl, name));
  try {
    const [tables] = await connection.query<RowDataPacket[]>(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
      [name],
    );
    const facts: Record<string, { rows: number; checksum: string }> = {};
    for (const { t } of tables) {
      const [[count]] = await connection.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${t}\``);
      const [[sum]] = await connection.query<RowDataPacket[]>(`CHECKSUM TABLE \`${t}\` EXTENDED`);
      facts[t] = { rows: Number(count?.n), checksum: String(sum?.Checksum) };
    }
    return facts;
  } finally {
    await connection.end();
  }
}

beforeAll(async () => {
  source = await createTestDatabase();
  scratch = await mkdtemp(join(tmpdir(), "certchain-backup-"));
  const hash = `0x${"ab".repeat(32)}` as const;
  await source.db.insert(users).values({ username: "backup_user", email: "backup@example.org", passwordHash: "x" });
  await source.db.insert(certificates).values(
    Array.from({ length: 50 }, (_, i) => ({
      tokenId: i + 1,
      ownerAddress: `0x${(i + 1).toString(16).padStart(40, "0")}` as const,
      issuerAddress: `0x${"1".repeat(40)}` as const,
      ipfsHash: `bafkreibackup${i}`,
      status: i % 7 === 0 ? ("invalid" as const) : ("valid" as const),
      revocationReason: i % 7 === 0 ? "émis par erreur — 错误" : null,
      issuedAt: new Date(Date.UTC(2026, 0, 1 + i)),
      issueTxHash: hash,
      issuedBlockNumber: 10 + i,
      blockNumber: 10 + i,
      blockHash: hash,
      logIndex: 0,
    })),
  );
  await source.db
    .insert(indexerCursor)
    .values({ chainId: 31337, blockNumber: 59, blockHash: hash, finalizedBlockNumber: 47 });
});
afterAll(async () => {
  const connection = await createConnection(withDatabase(source.url, ""));
  await connection.query(`DROP DATABASE IF EXISTS \`${restoredName}\``);
  await connection.end();
  await source.drop();
  await rm(scratch, { recursive: true, force: true });
});

test("default: a backup restored into a scratch database has every table, row and the cursor", async () => {
  const file = join(scratch, "snapshot.sql.gz");
  const backedUp = npmRun("backup", ["--out", file], source.url);
  expect(backedUp.stderr).toBe("");
  expect(backedUp.stdout).toMatch(
    /^db:backup: .* → .*snapshot\.sql\.gz \(\d+ tables, \d+ rows, indexer at block 59\)$/,
  );
  const manifest = JSON.parse(await readFile(`${file}.json`, "utf8"));
  expect(manifest.cursor).toEqual({ chainId: 31337, blockNumber: 59, blockHash: `0x${"ab".repeat(32)}` });
  expect(manifest.tables.certificates.rows).toBe(50);

  const restored = npmRun("restore", [file, "--into", restoredName], source.url);
  expect(restored.stderr).toBe("");
  expect(restored.stdout).toMatch(/every table matches the manifest; indexer resumes after block 59$/);
  expect(await tableFacts(source.url, restoredName)).toEqual(await tableFacts(source.url, source.name));
});

test("error: restoring over a database that holds tables is refused in one line, touching nothing", async () => {
  const file = join(scratch, "again.sql.gz");
  expect(npmRun("backup", ["--out", file], source.url).stderr).toBe("");
  const refused = npmRun("restore", [file, "--into", source.name], source.url);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr.split("\n")).toHaveLength(1);
  expect(refused.stderr).toMatch(/is not empty; restore into a new one with --into/);
});
