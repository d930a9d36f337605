export {
  type Anvil,
  type AnvilOptions,
  type AnvilRpc,
  anvilBinaryPath,
  anvilPoolSettled,
  reorgAnvil,
  startAnvil,
} from "./anvil.ts";
export {
  DEFAULT_FEE_BPS,
  type DeployOptions,
  deployContracts,
  type EnsureDeploymentOptions,
  type EnsuredDeployment,
  ensureDeployment,
} from "./deploy.ts";
export {
  CONTRACT_NAMES,
  type ContractName,
  type DeployedContract,
  type Deployment,
  defaultDeploymentsDir,
  deploymentPath,
  readDeployment,
  writeDeployment,
} from "./deployments.ts";
export { certificateRegistryAbi, certificateRegistryBytecode } from "./generated/certificateRegistry.ts";
export { marketplaceAbi, marketplaceBytecode } from "./generated/marketplace.ts";
export { paymentTokenAbi, paymentTokenBytecode } from "./generated/paymentToken.ts";
export { connectOperator, type NodeOptions, type OperatorClients } from "./node.ts";
