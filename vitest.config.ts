import { defineConfig } from "vitest/config";

// Every test file starts its own anvil and creates its own MariaDB database, so files run in parallel safely;
// two workers match the two cores of the machines this runs on.
export default defineConfig({
  test: {
    include: ["{apps,packages}/*/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
    globalSetup: ["scripts/test/global-setup.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
