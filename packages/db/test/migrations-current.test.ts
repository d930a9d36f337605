import { expect, test } from "vitest";
import { journalMismatches, pendingSchemaChanges } from "../scripts/migrations-drift.ts";

/*
 * The schema is the source of truth and the committed SQL must match it: a schema change without
 * `npm run db:generate` (and the generated migration committed) fails here and in `npm run db:check`.
 */
test("behavior: the committed migrations are up to date with src/schema", async () => {
  expect(await pendingSchemaChanges(), "run `npm run db:generate` and commit packages/db/migrations").toEqual([]);
});

test("behavior: the journal lists exactly the committed SQL files", () => {
  expect(journalMismatches()).toEqual([]);
});
