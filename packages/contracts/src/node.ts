import { systemErrorCode, UserFacingError } from "@certchain/common";
import {
  BaseError,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PrivateKeyAccount,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** Receipts of local chains arrive in milliseconds; viem's default of 4 s would dominate a local deploy. */
const POLLING_INTERVAL_MS = 250;

export type NodeOptions = {
  /** JSON-RPC URL of the node (`ETH_NODE_URL`). */
  rpcUrl: string;
  /** The chain the caller was configured for (`CHAIN_ID`); the node must be on it. */
  chainId: number;
  /** Key of the platform's admin wallet (`OPERATOR_PRIVATE_KEY`), which deploys and administers the contracts. */
  operatorPrivateKey: Hex;
};

export type OperatorClients = {
  publicClient: PublicClient<Transport, Chain>;
  /** Signs as the operator. */
  walletClient: WalletClient<Transport, Chain, PrivateKeyAccount>;
};

/**
 * Clients for the operator on the configured node, once the node has answered and is on the expected chain. An
 * unreachable node or a chain mismatch is a `UserFacingError` naming the setting to fix.
 */
export async function connectOperator({ rpcUrl, chainId, operatorPrivateKey }: NodeOptions): Promise<OperatorClients> {
  const chain = defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  // Fail fast on the first probe: retrying a refused connection only delays the message.
  const probe = createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) });
  let nodeChainId: number;
  try {
    nodeChainId = await probe.getChainId();
  } catch (error) {
    throw new UserFacingError(`cannot reach the Ethereum node at ${rpcUrl} (ETH_NODE_URL): ${describeFailure(error)}`, {
      cause: error,
    });
  }
  if (nodeChainId !== chainId) {
    throw new UserFacingError(
      `the Ethereum node at ${rpcUrl} (ETH_NODE_URL) is on chain ${nodeChainId}, but CHAIN_ID is ${chainId}`,
    );
  }
  const transport = http(rpcUrl);
  return {
    publicClient: createPublicClient({ chain, transport, pollingInterval: POLLING_INTERVAL_MS }),
    walletClient: createWalletClient({
      chain,
      transport,
      account: privateKeyToAccount(operatorPrivateKey),
      pollingInterval: POLLING_INTERVAL_MS,
    }),
  };
}

const SYSTEM_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
};

/** A few words on why a request failed: the system error when there is one, else viem's short message. */
function describeFailure(error: unknown): string {
  const code = systemErrorCode(error);
  if (code) return SYSTEM_ERRORS[code] ?? code;
  if (error instanceof BaseError) return error.shortMessage;
  return error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
}
