import { type Certificate, certificates, type Db } from "@certchain/db";
import { eq, sql } from "drizzle-orm";

/**
 * Hot reads built once per database handle rather than on every call: drizzle assembles a query's SQL from its
 * builder each time it runs, which cost `certificates.get` more CPU than the statement itself (bench:api's layers).
 */
function prepare(db: Db) {
  const certificateByTokenId = db
    .select()
    .from(certificates)
    .where(eq(certificates.tokenId, sql.placeholder("tokenId")))
    .prepare();
  return {
    /** The indexed row of one certificate, if any. */
    async certificate(tokenId: number): Promise<Certificate | undefined> {
      const [row] = await certificateByTokenId.execute({ tokenId });
      return row;
    },
  };
}

export type Queries = ReturnType<typeof prepare>;

const prepared = new WeakMap<Db, Queries>();

/** The prepared reads of `db`, made on first use. */
export function queriesOf(db: Db): Queries {
  let queries = prepared.get(db);
  if (!queries) {
    queries = prepare(db);
    prepared.set(db, queries);
  }
  return queries;
}
