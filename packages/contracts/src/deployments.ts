import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { repoRoot, UserFacingError } from "@certchain/common";
import { type Address, getAddress, isAddress } from "viem";

/** The contracts certchain deploys; their names are part of the public deployments format. */
export const CONTRACT_NAMES = ["CertificateRegistry", "Marketplace", "PaymentToken"] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export type DeployedContract = {
  address: Address;
  /** Block of the deployment transaction: where an indexer starts reading the contract's logs. */
  blockNumber: number;
};

/** `deployments/<chainId>.json`, as fixed by ARCHITECTURE.md. */
export type Deployment = {
  chainId: number;
  contracts: Record<ContractName, DeployedContract>;
};

/** `packages/contracts/deployments`, where `npm run contracts:deploy` writes. */
export const defaultDeploymentsDir: string = fileURLToPath(new URL("../deployments", import.meta.url));

export function deploymentPath(chainId: number, dir: string = defaultDeploymentsDir): string {
  return join(dir, `${chainId}.json`);
}

/**
 * Reads the deployment for `chainId`. Throws a `UserFacingError` that says how to fix it when the file is missing or
 * is not a deployment for that chain.
 */
export function readDeployment(chainId: number, dir: string = defaultDeploymentsDir): Deployment {
  const path = deploymentPath(chainId, dir);
  if (!existsSync(path)) {
    throw new UserFacingError(
      `no deployment for chain ${chainId} (${displayPath(path)} is missing): run \`npm run contracts:deploy\``,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new UserFacingError(`${displayPath(path)} is not valid JSON: run \`npm run contracts:deploy\``);
  }
  const parsed = parseDeployment(json, chainId);
  if (!parsed.ok) {
    throw new UserFacingError(
      `${displayPath(path)} is not a valid deployment (${parsed.problem}): run \`npm run contracts:deploy\``,
    );
  }
  return parsed.deployment;
}

/** Writes `deployment` to `<dir>/<chainId>.json` (atomically, so readers never see half a file) and returns the path. */
export function writeDeployment(deployment: Deployment, dir: string = defaultDeploymentsDir): string {
  const path = deploymentPath(deployment.chainId, dir);
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(deployment, null, 2)}\n`);
  renameSync(temporary, path);
  return path;
}

/** A path as a person would like to read it: relative to the repository when inside it. */
export function displayPath(path: string): string {
  const fromRoot = relative(repoRoot, path);
  return fromRoot.startsWith("..") ? path : fromRoot;
}

type ParseResult = { ok: true; deployment: Deployment } | { ok: false; problem: string };

function parseDeployment(json: unknown, chainId: number): ParseResult {
  const fail = (problem: string): ParseResult => ({ ok: false, problem });
  if (!isRecord(json)) return fail("not an object");
  if (json.chainId !== chainId) return fail(`chainId is ${JSON.stringify(json.chainId)}, expected ${chainId}`);
  if (!isRecord(json.contracts)) return fail("contracts is missing");
  const contracts: Partial<Record<ContractName, DeployedContract>> = {};
  for (const name of CONTRACT_NAMES) {
    const contract = json.contracts[name];
    if (!isRecord(contract)) return fail(`contracts.${name} is missing`);
    const { address, blockNumber } = contract;
    if (typeof address !== "string" || !isAddress(address, { strict: false })) {
      return fail(`contracts.${name}.address is not an address`);
    }
    if (typeof blockNumber !== "number" || !Number.isSafeInteger(blockNumber) || blockNumber < 0) {
      return fail(`contracts.${name}.blockNumber is not a block number`);
    }
    contracts[name] = { address: getAddress(address), blockNumber };
  }
  return { ok: true, deployment: { chainId, contracts: contracts as Record<ContractName, DeployedContract> } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
