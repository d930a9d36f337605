import type { Deployment } from "@certchain/contracts";
import { certificateRegistryAbi, marketplaceAbi, paymentTokenAbi } from "@certchain/contracts";
import type { ParsedTxRequest } from "@certchain/queue";
import { type Address, encodeFunctionData, type Hex, keccak256, toHex, zeroAddress } from "viem";

/** What to put in a transaction for a request: built from its payload and the deployment's addresses. */
export type ContractCall = { to: Address; data: Hex; value: bigint };

/** What the `transactions` row of the broadcast says moved (the indexer fills in the rest once mined). */
export type CallEffect = {
  amount: bigint | null;
  tokenId: number | null;
  currencyAddress: Address | null;
};

const ISSUER_ROLE = keccak256(toHex("ISSUER_ROLE"));

/** Every ABI whose custom errors a simulation may return, for decoding revert data. */
export const revertAbi = [...certificateRegistryAbi, ...marketplaceAbi, ...paymentTokenAbi];

export function buildCall(request: ParsedTxRequest, from: Address, deployment: Deployment): ContractCall {
  const registry = deployment.contracts.CertificateRegistry.address;
  const marketplace = deployment.contracts.Marketplace.address;
  const token = deployment.contracts.PaymentToken.address;
  const registryCall = (data: Hex): ContractCall => ({ to: registry, data, value: 0n });
  const marketplaceCall = (data: Hex, value = 0n): ContractCall => ({ to: marketplace, data, value });
  const abi = certificateRegistryAbi;
  const market = marketplaceAbi;

  switch (request.kind) {
    case "issue": {
      const { to, cid, expiresAt } = request.payload;
      return registryCall(encodeFunctionData({ abi, functionName: "issue", args: [to, cid, BigInt(expiresAt)] }));
    }
    case "revoke": {
      const { tokenId, reason } = request.payload;
      return registryCall(encodeFunctionData({ abi, functionName: "revoke", args: [BigInt(tokenId), reason] }));
    }
    case "grant_issuer":
      return registryCall(
        encodeFunctionData({ abi, functionName: "grantRole", args: [ISSUER_ROLE, request.payload.account] }),
      );
    case "revoke_issuer":
      return registryCall(
        encodeFunctionData({ abi, functionName: "revokeRole", args: [ISSUER_ROLE, request.payload.account] }),
      );
    case "approve":
      return request.payload.asset === "certificate"
        ? registryCall(
            encodeFunctionData({ abi, functionName: "approve", args: [marketplace, BigInt(request.payload.tokenId)] }),
          )
        : {
            to: token,
            data: encodeFunctionData({
              abi: paymentTokenAbi,
              functionName: "approve",
              args: [marketplace, BigInt(request.payload.amount)],
            }),
            value: 0n,
          };
    case "list": {
      const { tokenId, currency, price } = request.payload;
      return marketplaceCall(
        encodeFunctionData({ abi: market, functionName: "list", args: [BigInt(tokenId), currency, BigInt(price)] }),
      );
    }
    case "cancel":
      return marketplaceCall(
        encodeFunctionData({ abi: market, functionName: "cancel", args: [BigInt(request.payload.listingId)] }),
      );
    case "buy": {
      const { listingId, expectedPrice, currency } = request.payload;
      const price = BigInt(expectedPrice);
      return marketplaceCall(
        encodeFunctionData({ abi: market, functionName: "buy", args: [BigInt(listingId), price] }),
        currency === zeroAddress ? price : 0n,
      );
    }
    case "withdraw":
      return marketplaceCall(
        encodeFunctionData({ abi: market, functionName: "withdraw", args: [request.payload.currency] }),
      );
    case "eth_transfer":
      return { to: request.payload.to, data: "0x", value: BigInt(request.payload.amount) };
    case "token_transfer": {
      const { to, amount } = request.payload;
      return {
        to: token,
        data: encodeFunctionData({ abi: paymentTokenAbi, functionName: "transfer", args: [to, BigInt(amount)] }),
        value: 0n,
      };
    }
    case "noop":
      return noopCall(from);
  }
}

/** A zero-value self-transfer: fills or cancels a nonce without doing anything. */
export function noopCall(from: Address): ContractCall {
  return { to: from, data: "0x", value: 0n };
}

export function callEffect(request: ParsedTxRequest, deployment: Deployment): CallEffect {
  const none: CallEffect = { amount: null, tokenId: null, currencyAddress: null };
  switch (request.kind) {
    case "issue":
    case "noop":
    case "grant_issuer":
    case "revoke_issuer":
    case "cancel":
      return none;
    case "revoke":
    case "list":
      return { ...none, tokenId: Number(request.payload.tokenId) };
    case "approve":
      return request.payload.asset === "certificate" ? { ...none, tokenId: Number(request.payload.tokenId) } : none;
    case "buy":
      return { ...none, amount: BigInt(request.payload.expectedPrice), currencyAddress: request.payload.currency };
    case "withdraw":
      return { ...none, currencyAddress: request.payload.currency };
    case "eth_transfer":
      return { ...none, amount: BigInt(request.payload.amount), currencyAddress: zeroAddress };
    case "token_transfer":
      return {
        ...none,
        amount: BigInt(request.payload.amount),
        currencyAddress: deployment.contracts.PaymentToken.address.toLowerCase() as Address,
      };
  }
}
