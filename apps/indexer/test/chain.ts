import { ANVIL_ACCOUNT_0_PRIVATE_KEY, createLogger } from "@certchain/common";
import {
  type Anvil,
  certificateRegistryAbi,
  type Deployment,
  deployContracts,
  marketplaceAbi,
  paymentTokenAbi,
  reorgAnvil,
  startAnvil,
} from "@certchain/contracts";
import {
  type Abi,
  type Address,
  type ContractFunctionArgs,
  type ContractFunctionName,
  createTestClient,
  decodeEventLog,
  encodeFunctionData,
  type Hash,
  type Hex,
  http,
  publicActions,
  WaitForTransactionReceiptTimeoutError,
  walletActions,
} from "viem";
import { foundry } from "viem/chains";

/*
 * A test chain: a fresh anvil with the three contracts deployed, and fixtures named by what they do on it. Actors
 * are anvil's unlocked dev accounts, so transactions go out with `eth_sendTransaction` and no local signing.
 */

export const ETH = "0x0000000000000000000000000000000000000000" as const;

/** Automine mines at once: a transaction without a receipt after this long is lost, and waiting on helps nothing. */
const RECEIPT_TIMEOUT_MS = 60_000;
/** How often a transaction still without a receipt is checked for having been orphaned (see `landed`). */
const ORPHAN_CHECK_MS = 2_000;
/** Sends of one transaction that anvil orphans before the test gives up. */
const MAX_SENDS = 3;

export type TestChain = Awaited<ReturnType<typeof startTestChain>>;

export async function startTestChain(options: { anvil?: Anvil } = {}) {
  const anvil = options.anvil ?? (await startAnvil());
  const client = createTestClient({
    mode: "anvil",
    chain: foundry,
    transport: http(anvil.rpcUrl, { timeout: 60_000 }),
    pollingInterval: 20,
  })
    .extend(publicActions)
    .extend(walletActions);
  const deployment: Deployment = await deployContracts({
    rpcUrl: anvil.rpcUrl,
    chainId: 31337,
    operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
    logger: createLogger({ logLevel: "silent" }, "test"),
  });
  const accounts = (await client.getAddresses()).map((a) => a.toLowerCase() as Address);
  const operator = accounts[0] as Address;
  const registry = deployment.contracts.CertificateRegistry.address;
  const marketplace = deployment.contracts.Marketplace.address;
  const paymentToken = deployment.contracts.PaymentToken.address;

  async function send<const abi extends Abi, name extends ContractFunctionName<abi, "nonpayable" | "payable">>(
    from: Address,
    address: Address,
    abi: abi,
    functionName: name,
    args: ContractFunctionArgs<abi, "nonpayable" | "payable", name>,
    value?: bigint,
  ) {
    const sendOnce = () =>
      client.writeContract({
        account: from,
        chain: foundry,
        address,
        abi: abi as Abi,
        functionName: functionName as string,
        args: args as readonly unknown[],
        value,
      } as never) as Promise<Hash>;
    const receipt = await landed(sendOnce, `${String(functionName)} from ${from}`);
    if (receipt.status !== "success") throw new Error(`${String(functionName)} reverted`);
    return receipt;
  }

  /**
   * Sends with `sendOnce` and returns the receipt. Now and then anvil gives a transaction a nonce its sender has
   * already used on chain, and then never mines it (seen in the crash test after reorgs, about one CI run in three). The
   * transaction never took effect, so it is sent again, at most MAX_SENDS times; any other missing receipt is an error
   * saying where the transaction went.
   */
  async function landed(sendOnce: () => Promise<Hash>, what: string) {
    for (let attempt = 1; ; attempt++) {
      const hash = await sendOnce();
      const receipt = await receiptOf(hash, what);
      if (receipt !== "orphaned") return receipt;
      if (attempt === MAX_SENDS) throw new Error(`${what}: anvil orphaned the transaction ${MAX_SENDS} times`);
      console.warn(`${what}: anvil gave ${hash} a nonce already used on chain and will never mine it; sending again`);
    }
  }

  /** The receipt of a sent transaction, or "orphaned" if its nonce is already used on chain so it can never be mined. */
  async function receiptOf(hash: Hash, what: string) {
    const deadline = Date.now() + RECEIPT_TIMEOUT_MS;
    for (;;) {
      try {
        return await client.waitForTransactionReceipt({ hash, timeout: ORPHAN_CHECK_MS });
      } catch (error) {
        if (!(error instanceof WaitForTransactionReceiptTimeoutError)) throw error;
      }
      const transaction = await client.getTransaction({ hash }).catch(() => undefined);
      const onChainNonce = transaction && (await client.getTransactionCount({ address: transaction.from }));
      if (transaction && transaction.blockNumber === null && transaction.nonce < (onChainNonce as number)) {
        return "orphaned" as const;
      }
      if (Date.now() < deadline) continue;
      const where = transaction
        ? `still in anvil's pool with nonce ${transaction.nonce}; ${transaction.from} has nonce ${onChainNonce} on chain`
        : "dropped by anvil (as it drops a transaction whose nonce is past its sender's on chain)";
      throw new Error(
        `${what}: transaction ${hash} got no receipt within ${RECEIPT_TIMEOUT_MS / 1_000} s, ${where}; head ${await client.getBlockNumber({ cacheTime: 0 })}, pool ${JSON.stringify(await client.getTxpoolStatus())}`,
      );
    }
  }

  const chain = {
    anvil,
    client,
    deployment,
    accounts,
    operator,
    rpcUrl: anvil.rpcUrl,
    stop: () => anvil.stop(),

    async headNumber() {
      return Number(await client.getBlockNumber({ cacheTime: 0 }));
    },

    /** The operator (an issuer) issues a certificate to `to`; returns its token id. */
    async issueCertificate(to: Address, cid = `bafy${Math.random().toString(36).slice(2)}`, expiresAt = 0n) {
      const receipt = await send(operator, registry, certificateRegistryAbi, "issue", [to, cid, expiresAt]);
      const issued = receipt.logs
        .map((log) => {
          try {
            return decodeEventLog({ abi: certificateRegistryAbi, data: log.data, topics: log.topics });
          } catch {
            return undefined;
          }
        })
        .find((event) => event?.eventName === "CertificateIssued");
      if (!issued) throw new Error("issue emitted no CertificateIssued");
      return Number((issued.args as { tokenId: bigint }).tokenId);
    },

    async revoke(tokenId: number, reason = "withdrawn") {
      await send(operator, registry, certificateRegistryAbi, "revoke", [BigInt(tokenId), reason]);
    },

    async transfer(from: Address, to: Address, tokenId: number) {
      await send(from, registry, certificateRegistryAbi, "transferFrom", [from, to, BigInt(tokenId)]);
    },

    /** Lists `tokenId` (approving the marketplace for the seller first if needed); returns the listing id. */
    async listForSale(seller: Address, tokenId: number, price: bigint, currency: Address = ETH) {
      // Asked of the chain, not remembered: a reorg may have removed an earlier approval.
      const isApproved = await client.readContract({
        address: registry,
        abi: certificateRegistryAbi,
        functionName: "isApprovedForAll",
        args: [seller, marketplace],
      });
      if (!isApproved) await send(seller, registry, certificateRegistryAbi, "setApprovalForAll", [marketplace, true]);
      await send(seller, marketplace, marketplaceAbi, "list", [BigInt(tokenId), currency, price]);
      return Number(
        await client.readContract({ address: marketplace, abi: marketplaceAbi, functionName: "totalListings" }),
      );
    },

    async cancelListing(by: Address, listingId: number) {
      await send(by, marketplace, marketplaceAbi, "cancel", [BigInt(listingId)]);
    },

    /** Buys a listing in ETH at its price. */
    async buy(buyer: Address, listingId: number, price: bigint) {
      await send(buyer, marketplace, marketplaceAbi, "buy", [BigInt(listingId), price], price);
    },

    async withdraw(account: Address, currency: Address = ETH) {
      await send(account, marketplace, marketplaceAbi, "withdraw", [currency]);
    },

    async mintPaymentToken(to: Address, amount: bigint) {
      await send(operator, paymentToken, paymentTokenAbi, "mint", [to, amount]);
    },

    async transferPaymentToken(from: Address, to: Address, amount: bigint) {
      return (await send(from, paymentToken, paymentTokenAbi, "transfer", [to, amount])).transactionHash;
    },

    /**
     * Sends a transaction without waiting for it to be mined (with automine off, it stays in the pool until `mine`).
     * An explicit gas limit skips estimation, so a call that reverts is still sent, and mined as reverted.
     */
    async sendRaw(from: Address, to: Address, options: { value?: bigint; data?: Hex; gas?: bigint } = {}) {
      return client.sendTransaction({
        account: from,
        chain: foundry,
        to,
        value: options.value ?? 0n,
        data: options.data,
        gas: options.gas ?? 300_000n,
      } as never);
    },

    /** A plain ETH transfer, mined; returns its hash. */
    async sendEth(from: Address, to: Address, value: bigint) {
      const receipt = await landed(() => chain.sendRaw(from, to, { value, gas: 21_000n }), `ETH transfer from ${from}`);
      return receipt.transactionHash;
    },

    /** Calldata of an `issue` the registry refuses (an empty CID): the transaction is mined, and reverts. */
    revertingIssueCall(to: Address): Hex {
      return encodeFunctionData({ abi: certificateRegistryAbi, functionName: "issue", args: [to, "", 0n] });
    },

    /**
     * Replaces the last `depth` blocks with empty ones (same height): their transactions leave the chain (and anvil's
     * pool: senders' nonces go back to the common block's).
     */
    async reorg(depth: number) {
      await reorgAnvil((method, params) => client.request({ method, params } as never), depth);
    },

    async mine(blocks = 1) {
      await client.mine({ blocks });
    },

    async snapshot() {
      return client.snapshot();
    },

    async revert(id: `0x${string}`) {
      await client.revert({ id });
    },

    /** What the contracts' views say about every certificate and listing: the truth the tables must equal. */
    async readContractState() {
      const totalIssued = Number(
        await client.readContract({ address: registry, abi: certificateRegistryAbi, functionName: "totalIssued" }),
      );
      const totalListings = Number(
        await client.readContract({ address: marketplace, abi: marketplaceAbi, functionName: "totalListings" }),
      );
      const certificates = [];
      for (let tokenId = 1; tokenId <= totalIssued; tokenId++) {
        const id = BigInt(tokenId);
        const [owner, revoked, uri, transferCount] = await Promise.all([
          client.readContract({ address: registry, abi: certificateRegistryAbi, functionName: "ownerOf", args: [id] }),
          client.readContract({
            address: registry,
            abi: certificateRegistryAbi,
            functionName: "isRevoked",
            args: [id],
          }),
          client.readContract({ address: registry, abi: certificateRegistryAbi, functionName: "tokenURI", args: [id] }),
          client.readContract({
            address: registry,
            abi: certificateRegistryAbi,
            functionName: "transferCount",
            args: [id],
          }),
        ]);
        certificates.push({ tokenId, owner: owner.toLowerCase(), revoked, uri, transferCount: Number(transferCount) });
      }
      const listings = [];
      for (let listingId = 1; listingId <= totalListings; listingId++) {
        const listing = await client.readContract({
          address: marketplace,
          abi: marketplaceAbi,
          functionName: "listing",
          args: [BigInt(listingId)],
        });
        listings.push({
          listingId,
          seller: listing.seller.toLowerCase(),
          tokenId: Number(listing.tokenId),
          price: listing.price,
          status: (["none", "active", "sold", "cancelled"] as const)[listing.status] ?? "none",
          transferCount: Number(listing.transferCount),
        });
      }
      return { certificates, listings };
    },
  };
  return chain;
}
