import { existsSync } from "node:fs";
import { createLogger, type Logger, UserFacingError } from "@certchain/common";
import { type Address, encodeDeployData, formatEther, getAddress, type Hash } from "viem";
import {
  type ContractName,
  type DeployedContract,
  type Deployment,
  defaultDeploymentsDir,
  deploymentPath,
  displayPath,
  readDeployment,
  writeDeployment,
} from "./deployments.ts";
import { certificateRegistryAbi, certificateRegistryBytecode } from "./generated/certificateRegistry.ts";
import { marketplaceAbi, marketplaceBytecode } from "./generated/marketplace.ts";
import { paymentTokenAbi, paymentTokenBytecode } from "./generated/paymentToken.ts";
import { connectOperator, type NodeOptions, type OperatorClients } from "./node.ts";

/** Platform fee on marketplace sales unless the caller chooses another: 2.5%. */
export const DEFAULT_FEE_BPS = 250;

export type DeployOptions = NodeOptions & {
  /** Marketplace fee in basis points, paid to the operator. */
  feeBps?: number;
  logger?: Logger;
};

export type EnsureDeploymentOptions = DeployOptions & {
  /** Where `<chainId>.json` lives; `packages/contracts/deployments` unless a test points elsewhere. */
  deploymentsDir?: string;
};

export type EnsuredDeployment = {
  deployment: Deployment;
  /** The deployments file that describes it. */
  path: string;
  /** True when the contracts on file were already on the chain and running the current code. */
  reused: boolean;
};

/**
 * Deploys PaymentToken, CertificateRegistry and Marketplace from the operator's account, then allows the payment
 * token on the marketplace and makes the operator an issuer. The operator is the admin of all three and the fee
 * recipient. Writes no file: see `ensureDeployment`.
 */
export async function deployContracts(options: DeployOptions): Promise<Deployment> {
  return deploy(await connectOperator(options), options);
}

/**
 * Reuses the deployment on file for the chain when its contracts are on the chain and run the current code;
 * otherwise deploys afresh and writes the file. Safe to run on every start.
 */
export async function ensureDeployment(options: EnsureDeploymentOptions): Promise<EnsuredDeployment> {
  const logger = options.logger ?? silentLogger();
  const dir = options.deploymentsDir ?? defaultDeploymentsDir;
  const path = deploymentPath(options.chainId, dir);
  const clients = await connectOperator(options);

  if (existsSync(path)) {
    const onFile = await checkDeploymentOnFile(clients, options.chainId, dir);
    if (onFile.deployment) {
      logger.info({ path: displayPath(path), ...addresses(onFile.deployment) }, "Reused deployment");
      return { deployment: onFile.deployment, path, reused: true };
    }
    logger.info({ path: displayPath(path), reason: onFile.reason }, "Replacing stale deployment");
  }
  const deployment = await deploy(clients, options);
  writeDeployment(deployment, dir);
  logger.info({ path: displayPath(path) }, "Wrote deployment");
  return { deployment, path, reused: false };
}

async function deploy({ publicClient, walletClient }: OperatorClients, options: DeployOptions): Promise<Deployment> {
  const logger = options.logger ?? silentLogger();
  const operator = walletClient.account.address;
  const feeBps = options.feeBps ?? DEFAULT_FEE_BPS;

  const balance = await publicClient.getBalance({ address: operator });
  if (balance === 0n) {
    throw new UserFacingError(
      `the operator account ${operator} (OPERATOR_PRIVATE_KEY) has no ETH on chain ${options.chainId} to pay for the deployment`,
    );
  }
  logger.info({ chainId: options.chainId, operator, balance: formatEther(balance) }, "Deploying contracts");

  const confirm = async (hash: Hash, what: string) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${what} reverted (transaction ${hash})`);
    return receipt;
  };
  const deployed = async (name: ContractName, hash: Hash): Promise<DeployedContract> => {
    const receipt = await confirm(hash, `deploying ${name}`);
    if (!receipt.contractAddress) throw new Error(`deploying ${name} created no contract (transaction ${hash})`);
    const contract = { address: getAddress(receipt.contractAddress), blockNumber: Number(receipt.blockNumber) };
    logger.info({ contract: name, ...contract }, "Deployed contract");
    return contract;
  };

  const paymentToken = await deployed(
    "PaymentToken",
    await walletClient.deployContract({ abi: paymentTokenAbi, bytecode: paymentTokenBytecode, args: [operator] }),
  );
  const certificateRegistry = await deployed(
    "CertificateRegistry",
    await walletClient.deployContract({
      abi: certificateRegistryAbi,
      bytecode: certificateRegistryBytecode,
      args: [operator],
    }),
  );
  const marketplace = await deployed(
    "Marketplace",
    await walletClient.deployContract({
      abi: marketplaceAbi,
      bytecode: marketplaceBytecode,
      args: [certificateRegistry.address, operator, operator, feeBps],
    }),
  );

  await confirm(
    await walletClient.writeContract({
      address: marketplace.address,
      abi: marketplaceAbi,
      functionName: "setCurrencyAllowed",
      args: [paymentToken.address, true],
    }),
    "allowing PaymentToken on the marketplace",
  );
  const issuerRole = await publicClient.readContract({
    address: certificateRegistry.address,
    abi: certificateRegistryAbi,
    functionName: "ISSUER_ROLE",
  });
  await confirm(
    await walletClient.writeContract({
      address: certificateRegistry.address,
      abi: certificateRegistryAbi,
      functionName: "grantRole",
      args: [issuerRole, operator],
    }),
    "granting ISSUER_ROLE to the operator",
  );

  return {
    chainId: options.chainId,
    contracts: { CertificateRegistry: certificateRegistry, Marketplace: marketplace, PaymentToken: paymentToken },
  };
}

type CheckResult = { deployment: Deployment; reason?: never } | { deployment?: never; reason: string };

/**
 * The deployment on file when it can be reused, else why not. The registry and the marketplace must run exactly the
 * code the current build would deploy (the node computes it by simulating their creation; the marketplace's only
 * immutable is the registry address, passed the same), so editing the contracts and restarting the local stack
 * redeploys them. The payment token's code embeds its own address, so for it being there is enough.
 */
async function checkDeploymentOnFile(
  { publicClient, walletClient }: OperatorClients,
  chainId: number,
  dir: string,
): Promise<CheckResult> {
  let deployment: Deployment;
  try {
    deployment = readDeployment(chainId, dir);
  } catch (error) {
    return { reason: error instanceof Error ? error.message : String(error) };
  }
  const { CertificateRegistry, Marketplace, PaymentToken } = deployment.contracts;
  const operator = walletClient.account.address;
  const expected: Array<[ContractName, Address, Hash | undefined]> = [
    [
      "CertificateRegistry",
      CertificateRegistry.address,
      encodeDeployData({ abi: certificateRegistryAbi, bytecode: certificateRegistryBytecode, args: [operator] }),
    ],
    [
      "Marketplace",
      Marketplace.address,
      encodeDeployData({
        abi: marketplaceAbi,
        bytecode: marketplaceBytecode,
        args: [CertificateRegistry.address, operator, operator, DEFAULT_FEE_BPS],
      }),
    ],
    ["PaymentToken", PaymentToken.address, undefined],
  ];
  for (const [name, address, creationCode] of expected) {
    const code = await publicClient.getCode({ address });
    if (!code) return { reason: `${name} has no code at ${address}` };
    if (creationCode) {
      const { data: currentCode } = await publicClient.call({ account: operator, data: creationCode });
      if (currentCode !== code) return { reason: `${name} at ${address} runs different code than the current build` };
    }
  }
  return { deployment };
}

function addresses(deployment: Deployment): Record<ContractName, Address> {
  const { CertificateRegistry, Marketplace, PaymentToken } = deployment.contracts;
  return {
    CertificateRegistry: CertificateRegistry.address,
    Marketplace: Marketplace.address,
    PaymentToken: PaymentToken.address,
  };
}

function silentLogger(): Logger {
  return createLogger({ logLevel: "silent" }, "contracts");
}
