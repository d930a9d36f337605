import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserFacingError } from "@certchain/common";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { type Deployment, deploymentPath, readDeployment, writeDeployment } from "../src/deployments.ts";

const deployment: Deployment = {
  chainId: 31337,
  contracts: {
    CertificateRegistry: { address: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", blockNumber: 2 },
    Marketplace: { address: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0", blockNumber: 3 },
    PaymentToken: { address: "0x5FbDB2315678afecb367f032d93F642f64180aa3", blockNumber: 1 },
  },
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "certchain-deployments-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("deployments files", () => {
  test("default: writeDeployment writes the public format that readDeployment reads back", () => {
    const path = writeDeployment(deployment, dir);
    expect(path).toBe(deploymentPath(31337, dir));
    expect(path.endsWith("/31337.json")).toBe(true);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(deployment);
    expect(readDeployment(31337, dir)).toEqual(deployment);
  });

  test("behavior: addresses are read back checksummed", () => {
    const lowercase = structuredClone(deployment);
    lowercase.contracts.Marketplace.address = "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0";
    writeDeployment(lowercase, dir);
    expect(readDeployment(31337, dir).contracts.Marketplace.address).toBe(deployment.contracts.Marketplace.address);
  });

  test("error: a missing file says to deploy", () => {
    expect(() => readDeployment(5, dir)).toThrow(UserFacingError);
    expect(() => readDeployment(5, dir)).toThrow(
      `no deployment for chain 5 (${join(dir, "5.json")} is missing): run \`npm run contracts:deploy\``,
    );
  });

  test.each([
    ["not JSON", "{", "is not valid JSON"],
    ["another chain's file", { ...deployment, chainId: 1 }, "(chainId is 1, expected 31337)"],
    [
      "a contract missing",
      { chainId: 31337, contracts: { CertificateRegistry: deployment.contracts.CertificateRegistry } },
      "(contracts.Marketplace is missing)",
    ],
    [
      "a bad address",
      { ...deployment, contracts: { ...deployment.contracts, PaymentToken: { address: "0x12", blockNumber: 1 } } },
      "(contracts.PaymentToken.address is not an address)",
    ],
    [
      "a bad block number",
      {
        ...deployment,
        contracts: {
          ...deployment.contracts,
          PaymentToken: { address: "0x5FbDB2315678afecb367f032d93F642f64180aa3", blockNumber: -1 },
        },
      },
      "(contracts.PaymentToken.blockNumber is not a block number)",
    ],
  ])("error: %s", (_, content, message) => {
    writeFileSync(deploymentPath(31337, dir), typeof content === "string" ? content : JSON.stringify(content));
    expect(() => readDeployment(31337, dir)).toThrow(message);
    expect(() => readDeployment(31337, dir)).toThrow("run `npm run contracts:deploy`");
  });
});
