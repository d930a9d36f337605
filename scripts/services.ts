/** `npm run services`: makes sure MySQL and Redis answer, starting local installs that are down (used by CI too). */
import { loadConfig, runMain } from "@certchain/common";
import { ensureServices } from "./lib/services.ts";

runMain("services", async () => {
  await ensureServices(loadConfig(), (message) => console.log(`services: ${message}`));
});
