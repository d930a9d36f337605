import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { generateMySQLDrizzleJson, generateMySQLMigration } from "drizzle-kit/api";
import { MIGRATIONS_FOLDER } from "../src/migrate.ts";
import * as schema from "../src/schema/index.ts";

/**
 * The SQL that `drizzle-kit generate` would write now: empty when the committed migrations match `src/schema`.
 * Works offline, like `generate` itself: it diffs the schema against the newest snapshot in `migrations/meta`.
 */
export async function pendingSchemaChanges(): Promise<string[]> {
  const metaDir = join(MIGRATIONS_FOLDER, "meta");
  const latest = readdirSync(metaDir)
    .filter((file) => file.endsWith("_snapshot.json"))
    .sort()
    .at(-1);
  if (latest === undefined) throw new Error(`no snapshot in ${metaDir}: run \`npm run db:generate\``);
  const previous = JSON.parse(readFileSync(join(metaDir, latest), "utf8"));
  const current = await generateMySQLDrizzleJson(schema, previous.id);
  return generateMySQLMigration(previous, current);
}

/** SQL files and journal entries that do not match (a file added or deleted by hand). */
export function journalMismatches(): string[] {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8")) as {
    entries: Array<{ tag: string }>;
  };
  const inJournal = new Set(journal.entries.map((entry) => `${entry.tag}.sql`));
  const onDisk = new Set(readdirSync(MIGRATIONS_FOLDER).filter((file) => file.endsWith(".sql")));
  return [
    ...[...inJournal].filter((file) => !onDisk.has(file)).map((file) => `${file} is in the journal but missing`),
    ...[...onDisk].filter((file) => !inJournal.has(file)).map((file) => `${file} is not in the journal`),
  ];
}
