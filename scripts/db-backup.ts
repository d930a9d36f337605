/**
 * `npm run db:backup [-- --out <file>]` and `npm run db:restore -- <file> [--into <database>]`.
 *
 * A backup is one consistent snapshot (`mariadb-dump --single-transaction`: InnoDB tables read in one transaction, no
 * locks held against the daemons), gzip-compressed, plus a JSON manifest beside it with the chain cursor and each
 * table's row count and checksum at that moment, which `db:restore` checks after loading. The indexer resumes from the
 * restored cursor: rows and cursor were dumped together, so nothing is lost or applied twice.
 */
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGunzip, createGzip } from "node:zlib";
import { loadConfig, repoRoot, runMain, UserFacingError } from "@certchain/common";
import { DATABASE_NAME_PATTERN, parseDatabaseUrl, requireDatabaseName } from "@certchain/db";
import { createConnection, type RowDataPacket } from "mysql2/promise";

type Manifest = {
  database: string;
  createdAt: string;
  /** Where the indexer stood in this snapshot; null before it first ran. */
  cursor: { chainId: number; blockNumber: number; blockHash: string } | null;
  tables: Record<string, { rows: number; checksum: string }>;
};

const manifestPath = (file: string) => `${file}.json`;

/** Client options for the mariadb tools; the password goes through the environment, never the command line. */
function clientArgs(databaseUrl: string) {
  const target = parseDatabaseUrl(databaseUrl);
  return {
    target,
    args: [`--host=${target.host}`, `--port=${target.port}`, `--user=${target.user}`],
    env: { ...process.env, MYSQL_PWD: target.password },
  };
}

/** Row counts and checksums of every table, read in one consistent snapshot. */
async function describeDatabase(databaseUrl: string, database: string): Promise<Omit<Manifest, "createdAt">> {
  const target = parseDatabaseUrl(databaseUrl);
  const connection = await createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database,
  });
  try {
    await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    await connection.query("START TRANSACTION WITH CONSISTENT SNAPSHOT");
    const [tableRows] = await connection.query<RowDataPacket[]>(
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
      [database],
    );
    const tables: Manifest["tables"] = {};
    for (const { name } of tableRows) {
      const [[count]] = await connection.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${name}\``);
      // Equal contents give equal checksums (the same server version computes both sides).
      const [[digest]] = await connection.query<RowDataPacket[]>(`CHECKSUM TABLE \`${name}\` EXTENDED`);
      tables[name] = { rows: Number(count?.n), checksum: String(digest?.Checksum ?? "") };
    }
    const [cursorRows] = await connection
      .query<RowDataPacket[]>(
        "SELECT chain_id AS chainId, block_number AS blockNumber, block_hash AS blockHash FROM indexer_cursor ORDER BY chain_id LIMIT 1",
      )
      .catch(() => [[]] as unknown as [RowDataPacket[]]);
    const cursor = cursorRows[0]
      ? {
          chainId: Number(cursorRows[0].chainId),
          blockNumber: Number(cursorRows[0].blockNumber),
          blockHash: String(cursorRows[0].blockHash),
        }
      : null;
    await connection.query("COMMIT");
    return { database, cursor, tables };
  } finally {
    await connection.end();
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<void>((resolvePromise, reject) => {
    child.on("error", (error) =>
      reject(new UserFacingError(`${command} could not be started (${error.message}); install the MariaDB client`)),
    );
    child.on("close", (code) =>
      code === 0
        ? resolvePromise()
        : reject(new UserFacingError(`${command} failed: ${stderr.trim().split("\n")[0] ?? `exit code ${code}`}`)),
    );
  });
  return { child, done };
}

async function backup(out: string | undefined): Promise<void> {
  const config = loadConfig();
  const { target, args, env } = clientArgs(config.databaseUrl);
  const database = requireDatabaseName(target);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = resolve(out ?? join(repoRoot, "backups", `${database}-${stamp}.sql.gz`));
  mkdirSync(dirname(file), { recursive: true });

  const dump = run(
    "mariadb-dump",
    [
      ...args,
      "--single-transaction",
      "--quick",
      "--hex-blob",
      "--routines",
      "--triggers",
      "--no-tablespaces",
      database,
    ],
    env,
  );
  dump.child.stdin.end();
  await Promise.all([pipeline(dump.child.stdout, createGzip(), createWriteStream(file)), dump.done]);
  // Described right after the dump: on a live stack the daemons may have moved on a little, which restore reports.
  const manifest: Manifest = {
    createdAt: new Date().toISOString(),
    ...(await describeDatabase(config.databaseUrl, database)),
  };
  writeFileSync(manifestPath(file), `${JSON.stringify(manifest, null, 2)}\n`);
  const rows = Object.values(manifest.tables).reduce((sum, table) => sum + table.rows, 0);
  const cursor = manifest.cursor ? `indexer at block ${manifest.cursor.blockNumber}` : "indexer not started";
  console.log(
    `db:backup: ${database} → ${file} (${Object.keys(manifest.tables).length} tables, ${rows} rows, ${cursor})`,
  );
}

async function restore(file: string | undefined, into: string | undefined): Promise<void> {
  if (!file) throw new UserFacingError("name the backup to restore: npm run db:restore -- <file.sql.gz> [--into <db>]");
  if (!existsSync(file)) throw new UserFacingError(`${file} does not exist`);
  const config = loadConfig();
  const { target, args, env } = clientArgs(config.databaseUrl);
  const database = into ?? requireDatabaseName(target);
  if (!DATABASE_NAME_PATTERN.test(database)) {
    throw new UserFacingError(`--into "${database}": use 1-64 letters, digits, "_" or "$"`);
  }
  const connection = await createConnection({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
  });
  try {
    const [existing] = await connection.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
      [database],
    );
    if (Number(existing[0]?.n) > 0) {
      throw new UserFacingError(`database ${database} is not empty; restore into a new one with --into <name>`);
    }
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await connection.end();
  }
  const load = run("mariadb", [...args, database], env);
  await Promise.all([pipeline(createReadStream(file), createGunzip(), load.child.stdin), load.done]);
  load.child.stdout.resume();

  const manifestFile = manifestPath(file);
  if (!existsSync(manifestFile)) {
    console.log(`db:restore: ${file} → ${database} (no manifest beside it, so nothing was checked)`);
    return;
  }
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
  const restored = await describeDatabase(config.databaseUrl, database);
  const differences = Object.entries(manifest.tables)
    .filter(([name, table]) => restored.tables[name]?.checksum !== table.checksum)
    .map(([name]) => name);
  const cursor = restored.cursor ? `indexer resumes after block ${restored.cursor.blockNumber}` : "no indexer cursor";
  if (differences.length > 0) {
    console.log(
      `db:restore: ${file} → ${database}; ${cursor}; differs from the manifest in ${differences.join(", ")} (written while the backup ran)`,
    );
  } else {
    console.log(`db:restore: ${file} → ${database}; every table matches the manifest; ${cursor}`);
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: "string" }, into: { type: "string" } },
});
const [command, file] = positionals;
runMain(command === "restore" ? "db:restore" : "db:backup", async () => {
  if (command === "backup") return backup(values.out);
  if (command === "restore") return restore(file, values.into);
  throw new UserFacingError("usage: db-backup.ts backup [--out file] | restore <file> [--into database]");
});
