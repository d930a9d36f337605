/**
 * Where `certificates.get`'s CPU goes, layer by layer, measured in this process without sockets: the driver call the
 * baseline makes, then the procedure's row read (decoded as drizzle decodes it), the procedure through a tRPC caller (zod input and output,
 * middleware), and the whole app through `app.request()` by the REST path and by tRPC. Each layer includes the ones
 * before it; the differences are what each adds. CPU time per call, with CONCURRENCY calls in flight.
 */
import type { Db } from "@certchain/db";
import type { Pool } from "mysql2/promise";
import { createApp } from "../../../apps/api/src/app.ts";
import { type ApiDeps, createContextInner } from "../../../apps/api/src/context.ts";
import { queriesOf } from "../../../apps/api/src/queries.ts";
import { appRouter } from "../../../apps/api/src/root.ts";
import { createCallerFactory } from "../../../apps/api/src/trpc.ts";
import type { RecordedQuery } from "./queries.ts";

const CALLS_PER_ROUND = 2_000;
const WARMUP_CALLS = 3_000;
/**
 * Rounds go through every layer in turn and each layer reports its cheapest round, so a burst of other work on the
 * machine inflates one round rather than one layer.
 */
const ROUNDS = 3;
const CONCURRENCY = 10;
/** What @hono/node-server gives the app, so `getConnInfo` finds a peer as it does when served. */
const SERVED_ENV = { incoming: { socket: { remoteAddress: "127.0.0.1", remotePort: 40000, remoteFamily: "IPv4" } } };

export type LayerCost = { layer: string; cpuMicroseconds: number };

export async function measureLayers(options: {
  deps: ApiDeps;
  db: Db;
  pool: Pool;
  /** `certificates.get`'s recorded SQL, one `?` for the token id. */
  getStatement: RecordedQuery;
  randomTokenId: () => number;
  /** The same dependencies with the read cache on: adds the tRPC path answered from its memory (`hotTokenId`'s ids). */
  cached?: { deps: ApiDeps; hotTokenId: () => number };
}): Promise<LayerCost[]> {
  const { deps, db, pool, getStatement, randomTokenId, cached } = options;
  const app = createApp(deps);
  const cachedApp = cached ? createApp(cached.deps) : undefined;
  const createCaller = createCallerFactory(appRouter);
  const request = async (path: string, on = app) => {
    const response = await on.request(`http://localhost${path}`, {}, SERVED_ENV);
    await response.text();
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
  };
  const layers: Array<[string, () => Promise<unknown>]> = [
    [
      "mysql2 statement (the baseline's call)",
      () =>
        getStatement.method === "execute"
          ? pool.execute(getStatement.sql, [randomTokenId()])
          : pool.query(getStatement.sql, [randomTokenId()]),
    ],
    // The procedure's read as routers/certificates.ts runs it: the same statement, its row decoded as drizzle would.
    ["+ the row decoded (createRowReader)", () => queriesOf(db).certificate(randomTokenId())],
    [
      "+ procedure via tRPC caller",
      () => createCaller(createContextInner(deps)).certificates.get({ tokenId: randomTokenId() }),
    ],
    ["+ Hono app, REST path", () => request(`/api/certificates/${randomTokenId()}`)],
    [
      "+ Hono app, tRPC path",
      () => request(`/trpc/certificates.get?input=${encodeURIComponent(JSON.stringify({ tokenId: randomTokenId() }))}`),
    ],
  ];
  if (cached && cachedApp) {
    layers.push([
      "instead: Hono app, tRPC path, a hit in the read cache's memory",
      () =>
        request(
          `/trpc/certificates.get?input=${encodeURIComponent(JSON.stringify({ tokenId: cached.hotTokenId() }))}`,
          cachedApp,
        ),
    ]);
  }
  for (const [, call] of layers) await cpuPerCall(call, WARMUP_CALLS);
  const cheapest = layers.map(() => Number.POSITIVE_INFINITY);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, call]] of layers.entries()) {
      cheapest[i] = Math.min(cheapest[i] ?? Number.POSITIVE_INFINITY, await cpuPerCall(call, CALLS_PER_ROUND));
    }
  }
  return layers.map(([layer], i) => ({ layer, cpuMicroseconds: Math.round(cheapest[i] ?? 0) }));
}

async function cpuPerCall(call: () => Promise<unknown>, calls: number): Promise<number> {
  let started = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < calls) {
        started++;
        await call();
      }
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}
