import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createTestClient, http } from "viem";
import { foundry } from "viem/chains";
import { expect, test } from "vitest";
import { startAnvil } from "../src/index.ts";

test("an anvil's spilled block states live in its own HOME, which is gone once it stops", async () => {
  const anvil = await startAnvil();
  // Enough blocks that anvil moves old states out of memory and onto disk.
  await createTestClient({ mode: "anvil", chain: foundry, transport: http(anvil.rpcUrl) }).mine({ blocks: 1_000 });
  const spilled = join(anvil.home, ".foundry", "anvil", "tmp");
  await expect.poll(() => existsSync(spilled) && readdirSync(spilled).length > 0).toBe(true);

  await anvil.stop();
  expect(existsSync(anvil.home)).toBe(false);
});

test("a killed anvil's HOME is removed too", async () => {
  const anvil = await startAnvil();
  expect(existsSync(anvil.home)).toBe(true);
  anvil.process.kill("SIGKILL");
  await anvil.stop();
  expect(existsSync(anvil.home)).toBe(false);
});
