/**
 * Gas per user-facing operation (what issuers, sellers and buyers pay) and the sequential issue rate through viem
 * against a local anvil. Gas is exact and repeatable; the rate mostly measures anvil + viem on this machine.
 */
import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import {
  certificateRegistryAbi,
  deployContracts,
  marketplaceAbi,
  paymentTokenAbi,
  startAnvil,
} from "@certchain/contracts";
import { type Address, createPublicClient, createWalletClient, type Hash, http, parseEther, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import type { Benchmark, BenchmarkResult } from "./types.ts";

/** anvil's second and third dev accounts: a holder who sells and a buyer. */
const SELLER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const BUYER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const SEQUENTIAL_ISSUES = 200;
const SAMPLE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

export const benchmark: Benchmark = {
  name: "contracts",
  async run() {
    const anvil = await startAnvil();
    try {
      const deployment = await deployContracts({
        rpcUrl: anvil.rpcUrl,
        chainId: foundry.id,
        operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
      });
      const registry = deployment.contracts.CertificateRegistry.address;
      const market = deployment.contracts.Marketplace.address;
      const token = deployment.contracts.PaymentToken.address;
      const transport = http(anvil.rpcUrl);
      const publicClient = createPublicClient({ chain: foundry, transport, pollingInterval: 50 });
      const wallet = (key: Hash) =>
        createWalletClient({ chain: foundry, transport, account: privateKeyToAccount(key), pollingInterval: 50 });
      const operator = wallet(ANVIL_ACCOUNT_0_PRIVATE_KEY);
      const seller = wallet(SELLER_KEY);
      const buyer = wallet(BUYER_KEY);
      const results: BenchmarkResult[] = [];

      const gasOf = async (metric: string, send: () => Promise<Hash>, note?: string) => {
        const receipt = await publicClient.waitForTransactionReceipt({ hash: await send() });
        if (receipt.status !== "success") throw new Error(`${metric} reverted`);
        results.push({
          metric: `gas: ${metric}`,
          value: Number(receipt.gasUsed),
          unit: "gas",
          ...(note ? { note } : {}),
        });
      };
      const issueTo = (to: Address) =>
        operator.writeContract({
          address: registry,
          abi: certificateRegistryAbi,
          functionName: "issue",
          args: [to, SAMPLE_CID, 0n],
        });

      await gasOf("issue (first)", () => issueTo(seller.account.address), "token id 1, cold storage");
      await gasOf("issue", () => issueTo(seller.account.address), "token id 2");
      await gasOf("revoke", () =>
        operator.writeContract({
          address: registry,
          abi: certificateRegistryAbi,
          functionName: "revoke",
          args: [2n, "bench"],
        }),
      );
      await issueTo(seller.account.address); // token 3, for the sales below
      await issueTo(seller.account.address); // token 4
      await gasOf("approve marketplace (setApprovalForAll)", () =>
        seller.writeContract({
          address: registry,
          abi: certificateRegistryAbi,
          functionName: "setApprovalForAll",
          args: [market, true],
        }),
      );
      const price = parseEther("1");
      await gasOf("list (ETH)", () =>
        seller.writeContract({
          address: market,
          abi: marketplaceAbi,
          functionName: "list",
          args: [1n, zeroAddress, price],
        }),
      );
      await gasOf("buy (ETH)", () =>
        buyer.writeContract({
          address: market,
          abi: marketplaceAbi,
          functionName: "buy",
          args: [1n, price],
          value: price,
        }),
      );
      await gasOf("list (token)", () =>
        seller.writeContract({ address: market, abi: marketplaceAbi, functionName: "list", args: [3n, token, price] }),
      );
      await operator.writeContract({
        address: token,
        abi: paymentTokenAbi,
        functionName: "mint",
        args: [buyer.account.address, price],
      });
      await gasOf("approve payment token", () =>
        buyer.writeContract({ address: token, abi: paymentTokenAbi, functionName: "approve", args: [market, price] }),
      );
      await gasOf("buy (token)", () =>
        buyer.writeContract({ address: market, abi: marketplaceAbi, functionName: "buy", args: [2n, price] }),
      );
      await gasOf("list (ETH, seller already approved)", () =>
        seller.writeContract({
          address: market,
          abi: marketplaceAbi,
          functionName: "list",
          args: [4n, zeroAddress, price],
        }),
      );
      await gasOf("cancel", () =>
        seller.writeContract({ address: market, abi: marketplaceAbi, functionName: "cancel", args: [3n] }),
      );
      await gasOf("withdraw (ETH)", () =>
        seller.writeContract({ address: market, abi: marketplaceAbi, functionName: "withdraw", args: [zeroAddress] }),
      );
      await gasOf("withdraw (token)", () =>
        seller.writeContract({ address: market, abi: marketplaceAbi, functionName: "withdraw", args: [token] }),
      );
      await gasOf("transfer (ERC-721)", () =>
        buyer.writeContract({
          address: registry,
          abi: certificateRegistryAbi,
          functionName: "transferFrom",
          args: [buyer.account.address, seller.account.address, 1n],
        }),
      );

      const started = performance.now();
      for (let i = 0; i < SEQUENTIAL_ISSUES; i++) {
        await publicClient.waitForTransactionReceipt({ hash: await issueTo(buyer.account.address) });
      }
      const seconds = (performance.now() - started) / 1000;
      results.push({
        metric: "sequential issue, send → receipt",
        value: Math.round(SEQUENTIAL_ISSUES / seconds),
        unit: "tx/s",
        note: `${SEQUENTIAL_ISSUES} txs, anvil automine, one at a time`,
      });
      return results;
    } finally {
      await anvil.stop();
    }
  },
};
