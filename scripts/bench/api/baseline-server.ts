/**
 * The API benchmark's baseline: a bare Hono app on @hono/node-server (as the API is served) with one route that runs
 * `certificates.get`'s statement with mysql2 directly — no tRPC, zod, drizzle, session lookup or chain head. Started
 * by `api.bench.ts` as `node <bundle> <sql> <query|execute>` with DATABASE_URL and API_PORT; the statement is what the
 * procedure sent, with one `?` for the token id, sent the way it sent it (as text, or as a prepared statement).
 */
import { createShutdown, loadConfig, runMain } from "@certchain/common";
import { parseDatabaseUrl } from "@certchain/db";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createPool, type RowDataPacket } from "mysql2/promise";

/** The API's pool size (`createDb`'s default), so both sides can have as many queries in flight. */
const POOL_SIZE = 10;
const DRAIN_TIMEOUT_MS = 5_000;

runMain("bench-baseline", async () => {
  const config = loadConfig();
  const [sql, method] = process.argv.slice(2);
  if (!sql || (method !== "query" && method !== "execute")) {
    throw new Error("usage: baseline-server <sql with one ? for the token id> query|execute");
  }
  const target = parseDatabaseUrl(config.databaseUrl);
  const pool = createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    ...(target.ssl === undefined ? {} : { ssl: target.ssl }),
    connectionLimit: POOL_SIZE,
    timezone: "Z",
  });
  let inFlight = 0;
  const app = new Hono().get("/certificates/:id", async (c) => {
    const id = c.req.param("id");
    if (!/^\d{1,15}$/.test(id)) return c.json({ error: "not a token id" }, 400);
    inFlight++;
    try {
      const values = [Number(id)];
      const [rows] =
        method === "execute"
          ? await pool.execute<RowDataPacket[]>(sql, values)
          : await pool.query<RowDataPacket[]>(sql, values);
      const row = rows[0];
      return row ? c.json(row) : c.json({ error: "not found" }, 404);
    } finally {
      inFlight--;
    }
  });
  const server = serve({ fetch: app.fetch, port: config.apiPort });
  const shutdown = createShutdown();
  shutdown.add(async () => {
    // Requests whose client has gone (the end of a run) may still wait for a pooled connection: let them finish.
    for (const deadline = Date.now() + DRAIN_TIMEOUT_MS; inFlight > 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await pool.end();
  });
  shutdown.add(() => new Promise<void>((resolve) => server.close(() => resolve())));
  shutdown.trapSignals();
});
