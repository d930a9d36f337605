import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@certchain/common";
import { afterAll, beforeAll, expect, test } from "vitest";
import { OPERATOR, type Stack, startStack } from "./fixtures.ts";

/** The transaction log an operator greps: every status change of a request, with its hash, on the `tx` channel. */
let stack: Stack;
let logDir: string;

beforeAll(async () => {
  stack = await startStack();
  logDir = await mkdtemp(join(tmpdir(), "certchain-txlog-"));
  await stack.startRelayer({}, { txLogger: createLogger({ logLevel: "info", logDir }, "relayer", "tx") });
});
afterAll(async () => {
  await stack.close();
  await rm(logDir, { recursive: true, force: true });
});

test("default: a request's way to confirmed is in relayer.tx.log, one line per change, with its hash", async () => {
  const requestId = await stack.submit({
    kind: "eth_transfer",
    payload: { to: "0x00000000000000000000000000000000000000aa", amount: "1" },
    idempotencyKey: "tx-log-transfer",
    from: OPERATOR,
  });
  const [row] = await stack.waitForFinal([requestId]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const lines = (await readFile(join(logDir, "relayer.tx.log"), "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((line) => line.requestId === requestId);
  expect(lines.map((line) => line.status)).toContain("confirmed");
  expect(lines.every((line) => line.log === "tx" && line.service === "relayer")).toBe(true);
  expect(lines.find((line) => line.status === "confirmed")?.txHash).toBe(row?.txHash);
});
