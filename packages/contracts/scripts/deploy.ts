/**
 * `npm run contracts:deploy`: makes sure the chain at ETH_NODE_URL has certchain's contracts, reusing the deployment
 * in `deployments/<CHAIN_ID>.json` when it is still there, and prints their addresses.
 */
import { createLogger, loadConfig, runMain } from "@certchain/common";
import { ensureDeployment } from "../src/deploy.ts";
import { CONTRACT_NAMES, displayPath } from "../src/deployments.ts";

runMain("contracts:deploy", async () => {
  const config = loadConfig();
  const { deployment, path, reused } = await ensureDeployment({
    rpcUrl: config.ethNodeUrl,
    chainId: config.chainId,
    operatorPrivateKey: config.operatorPrivateKey,
    deploymentsDir: config.deploymentsDir,
    logger: createLogger(config, "contracts:deploy"),
  });
  console.log(
    `${reused ? "Reused" : "Deployed"} certchain contracts on chain ${deployment.chainId} (${displayPath(path)}):`,
  );
  for (const name of CONTRACT_NAMES) {
    const { address, blockNumber } = deployment.contracts[name];
    console.log(`  ${name.padEnd(20)} ${address}  block ${blockNumber}`);
  }
});
