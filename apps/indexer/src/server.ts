import { Hono } from "hono";
import type { Common } from "./common.ts";
import type { Indexer } from "./indexer.ts";

/**
 * `/healthz`: the process answers. `/readyz`: the database and the node answer, this instance is the writer, it is
 * within `readyMaxLagBlocks` of the head, and no reorg deeper than the window stopped it (a stalled indexer must not
 * look healthy, research §3 #2264). `/metrics`: Prometheus.
 */
export function createServerApp(common: Pick<Common, "metrics">, indexer: Indexer) {
  return new Hono()
    .get("/healthz", (c) => c.json({ ok: true }))
    .get("/readyz", async (c) => {
      const status = indexer.status();
      const dependencies = await indexer.checkDependencies();
      const lag =
        status.headBlock !== null && status.indexedBlock !== null ? status.headBlock - status.indexedBlock : null;
      const problems: string[] = [];
      if (!dependencies.database) problems.push("database unreachable");
      if (!dependencies.node) problems.push("node unreachable");
      if (status.deepReorg) problems.push(`reorg deeper than the finality window: ${status.deepReorg.message}`);
      if (status.role !== "leader" && !status.deepReorg) problems.push(`role is ${status.role}`);
      if (lag === null) problems.push("not indexed yet");
      else if (lag > indexer.readyMaxLagBlocks) problems.push(`${lag} blocks behind the head`);
      const body = {
        ready: problems.length === 0,
        problems,
        role: status.role,
        head: status.headBlock,
        indexed: status.indexedBlock,
        lag,
      };
      return c.json(body, problems.length === 0 ? 200 : 503);
    })
    .get("/metrics", async (c) => {
      c.header("content-type", common.metrics.registry.contentType);
      return c.body(await common.metrics.registry.metrics());
    });
}
