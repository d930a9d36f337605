import { loadConfig, runMain } from "@certchain/common";
import { migrateDatabase } from "./migrate.ts";

// `npm run db:migrate`: creates the database named in DATABASE_URL if needed and applies pending migrations.
runMain("db:migrate", async () => {
  const config = loadConfig();
  const result = await migrateDatabase(config.databaseUrl);
  const what =
    result.applied === 0
      ? "already up to date"
      : `applied ${result.applied} migration${result.applied === 1 ? "" : "s"}`;
  console.log(
    `db:migrate: database ${result.database} at ${result.server}${result.created ? " created," : ""} ${what} (${result.total} in total)`,
  );
});
