import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes a migration for whatever changed in src/schema; review the SQL and commit it.
// No database connection is needed: drizzle-kit diffs the schema against the last snapshot in migrations/meta.
export default defineConfig({
  dialect: "mysql",
  schema: "./src/schema",
  out: "./migrations",
  breakpoints: true,
});
