import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { basename, join } from "node:path";
import { build } from "esbuild";
import { repoRoot } from "./config.ts";

/**
 * Helpers for tests that run our daemons as real processes. Test-only: nothing in `src/` of an app imports this.
 */

/** A TCP port free right now on 127.0.0.1, for a process the test is about to start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * A daemon's entry point (e.g. `apps/indexer/src/main.ts`) compiled into one ESM file by the esbuild that tsx itself
 * runs: workspace sources bundled, npm packages left to node. Kill-and-restart tests start it with plain `node`,
 * because tsx's loader costs seconds per start on a busy 2-core machine and its CLI wrapper would be orphaned by a
 * SIGKILL. The code is the same source. The file is removed when the test process exits.
 */
export async function bundleEntryForTest(entry: string): Promise<string> {
  const name = basename(join(entry, "..", ".."));
  const outfile = join(repoRoot, "node_modules", ".cache", "certchain-test", `${name}-${randomUUID()}.mjs`);
  await build({
    entryPoints: [join(repoRoot, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    plugins: [
      {
        name: "npm-packages-external",
        setup(builder) {
          builder.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith("@certchain/") ? undefined : { external: true },
          );
        },
      },
    ],
  });
  process.once("exit", () => rmSync(outfile, { force: true }));
  return outfile;
}
