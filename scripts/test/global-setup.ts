import { loadConfig } from "@certchain/common";
import { ensureServices } from "../lib/services.ts";

/**
 * Runs once before the vitest suites: MariaDB and Redis must answer (a local install that is down is started), so a
 * fresh machine goes from `npm install` to `npm test` with nothing else. Each test file then creates its own database
 * and its own anvil.
 */
export default async function setup(): Promise<void> {
  await ensureServices(loadConfig(), () => {});
}
