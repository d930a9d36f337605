import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
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

test("a process that crashes without stopping its anvil takes the node and its HOME with it", async () => {
  const script = `
    const { startAnvil } = await import(${JSON.stringify(join(import.meta.dirname, "..", "src", "index.ts"))});
    const anvil = await startAnvil();
    console.log(JSON.stringify({ pid: anvil.process.pid, home: anvil.home }));
    throw new Error("crashed on purpose");
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).once("line", (text) => resolve(text)),
  );
  const { pid, home } = JSON.parse(line) as { pid: number; home: string };
  expect(await exited).toBe(1);
  // Killed, it may stay a zombie until init reaps it (some containers' init never does): that is not running.
  const running = () => {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
    } catch {
      return false;
    }
  };
  await expect.poll(running).toBe(false);
  expect(existsSync(home)).toBe(false);
});
