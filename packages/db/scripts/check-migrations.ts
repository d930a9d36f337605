import { runMain, UserFacingError } from "@certchain/common";
import { journalMismatches, pendingSchemaChanges } from "./migrations-drift.ts";

// `npm run db:check` (run by .ci/run): fails when src/schema has changes that no committed migration contains.
runMain("db:check", async () => {
  const mismatches = journalMismatches();
  if (mismatches.length > 0) {
    throw new UserFacingError(`packages/db/migrations is inconsistent: ${mismatches.join("; ")}`);
  }
  const pending = await pendingSchemaChanges();
  if (pending.length > 0) {
    const first = (pending[0] ?? "").split("\n")[0];
    throw new UserFacingError(
      `src/schema has ${pending.length} change(s) with no migration (first: ${first}) — run \`npm run db:generate\`, review the SQL and commit packages/db/migrations`,
    );
  }
  console.log("db:check: migrations match src/schema");
});
