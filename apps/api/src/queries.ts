import { type Certificate, certificates, createRowReader, type Db } from "@certchain/db";

/**
 * Hot reads, set up once per database handle rather than on every call. `certificates.get` reads its row with
 * `createRowReader` (mysql2's prepared statement, drizzle's answer): the API used a fifth less CPU per response than
 * with drizzle's own prepared query (docs/performance.md).
 */
function prepare(db: Db) {
  const certificateByTokenId = createRowReader(db.$client, certificates, certificates.tokenId);
  return {
    /** The indexed row of one certificate, if any. */
    certificate(tokenId: number): Promise<Certificate | undefined> {
      return certificateByTokenId(tokenId);
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
