import { certificateRegistryAbi, marketplaceAbi, paymentTokenAbi } from "@certchain/contracts";
import { type Abi, type Hash, type Hex, type RpcLog, toEventSelector } from "viem";
import { FatalError } from "../errors.ts";
import { compileEventDecoder } from "./abi-decoder.ts";

type Address = `0x${string}`;

/** Where an event came from: enough to order it, point rows at it, and check it against its block. */
export type LogRef = {
  blockNumber: number;
  blockHash: Hash;
  logIndex: number;
  txHash: Hash;
  /** The emitting contract, lowercase. */
  address: Address;
};

/**
 * The platform's chain events, decoded and typed. Ids are numbers (token and listing ids are sequential counters far
 * below 2^53); amounts stay `bigint` (uint256). Addresses are lowercase, as the database stores them.
 */
export type ChainEvent =
  | {
      type: "certificateIssued";
      tokenId: number;
      issuer: Address;
      owner: Address;
      cid: string;
      expiresAt: bigint;
      log: LogRef;
    }
  | { type: "certificateTransferred"; tokenId: number; from: Address; to: Address; log: LogRef }
  | { type: "certificateRevoked"; tokenId: number; revokedBy: Address; reason: string; log: LogRef }
  | {
      type: "listed";
      listingId: number;
      seller: Address;
      tokenId: number;
      currency: Address;
      price: bigint;
      log: LogRef;
    }
  | { type: "listingCancelled"; listingId: number; by: Address; log: LogRef }
  | {
      type: "sold";
      listingId: number;
      buyer: Address;
      seller: Address;
      tokenId: number;
      currency: Address;
      price: bigint;
      fee: bigint;
      log: LogRef;
    }
  | { type: "proceedsWithdrawn"; account: Address; currency: Address; amount: bigint; log: LogRef }
  | { type: "paymentTokenTransferred"; from: Address; to: Address; value: bigint; log: LogRef }
  /** ERC-721 / ERC-20 approvals: no row changes, but the transaction is the platform's (`approve`). */
  | { type: "approval"; tokenId: number | null; log: LogRef }
  /** AccessControl and ownership changes (`role`). */
  | { type: "roleChanged"; log: LogRef }
  /** Anything else our contracts emit (metadata refresh, fee and currency settings): a transaction of kind `other`. */
  | { type: "other"; name: string; log: LogRef };

export type PlatformContracts = {
  certificateRegistry: Address;
  marketplace: Address;
  paymentToken: Address;
};

const ROLE_EVENTS = new Set([
  "RoleGranted",
  "RoleRevoked",
  "RoleAdminChanged",
  "DefaultAdminTransferScheduled",
  "DefaultAdminTransferCanceled",
  "DefaultAdminDelayChangeScheduled",
  "DefaultAdminDelayChangeCanceled",
  "OwnershipTransferred",
]);

type Decoder = (log: RpcLog, ref: LogRef) => ChainEvent;

/** Decodes raw logs of our three contracts into `ChainEvent`s, in the order given. */
export function createEventDecoder(contracts: PlatformContracts): (logs: readonly RpcLog[]) => ChainEvent[] {
  const byContract = new Map<Address, Map<Hash, Decoder>>([
    [contracts.certificateRegistry.toLowerCase() as Address, decoders(certificateRegistryAbi, registryEvent)],
    [contracts.marketplace.toLowerCase() as Address, decoders(marketplaceAbi, marketplaceEvent)],
    [contracts.paymentToken.toLowerCase() as Address, decoders(paymentTokenAbi, paymentTokenEvent)],
  ]);

  return (logs) =>
    logs.map((log) => {
      const address = log.address.toLowerCase() as Address;
      const topic = log.topics[0];
      const ref = logRef(log, address);
      const decode = topic ? byContract.get(address)?.get(topic) : undefined;
      // Unknown events of our own contracts still mark the transaction as the platform's.
      return decode ? decode(log, ref) : { type: "other", name: topic ?? "anonymous", log: ref };
    });
}

function logRef(log: RpcLog, address: Address): LogRef {
  if (log.blockHash === null || log.blockNumber === null || log.logIndex === null || log.transactionHash === null) {
    throw new FatalError("the node returned a pending log from eth_getLogs");
  }
  return {
    blockNumber: Number(log.blockNumber),
    blockHash: log.blockHash,
    logIndex: Number(log.logIndex),
    txHash: log.transactionHash,
    address,
  };
}

type Decoded = { eventName: string; args: Record<string, unknown> };

/** Per contract: event selector → decoder, compiled once from the generated ABI. */
function decoders(abi: Abi, toEvent: (decoded: Decoded, ref: LogRef) => ChainEvent): Map<Hash, Decoder> {
  const map = new Map<Hash, Decoder>();
  for (const item of abi) {
    if (item.type !== "event") continue;
    const eventName = item.name;
    const decodeArgs = compileEventDecoder(item);
    map.set(toEventSelector(item), (log, ref) =>
      toEvent({ eventName, args: decodeArgs(log.topics as Hex[], log.data) }, ref),
    );
  }
  return map;
}

const lower = (value: unknown) => (value as string).toLowerCase() as Address;
const id = (value: unknown) => Number(value as bigint);

function registryEvent({ eventName, args }: Decoded, log: LogRef): ChainEvent {
  switch (eventName) {
    case "CertificateIssued":
      return {
        type: "certificateIssued",
        tokenId: id(args.tokenId),
        issuer: lower(args.issuer),
        owner: lower(args.to),
        cid: args.cid as string,
        expiresAt: args.expiresAt as bigint,
        log,
      };
    case "Transfer":
      return {
        type: "certificateTransferred",
        tokenId: id(args.tokenId),
        from: lower(args.from),
        to: lower(args.to),
        log,
      };
    case "CertificateRevoked":
      return {
        type: "certificateRevoked",
        tokenId: id(args.tokenId),
        revokedBy: lower(args.revokedBy),
        reason: args.reason as string,
        log,
      };
    case "Approval":
      return { type: "approval", tokenId: id(args.tokenId), log };
    case "ApprovalForAll":
      return { type: "approval", tokenId: null, log };
    default:
      return ROLE_EVENTS.has(eventName) ? { type: "roleChanged", log } : { type: "other", name: eventName, log };
  }
}

function marketplaceEvent({ eventName, args }: Decoded, log: LogRef): ChainEvent {
  switch (eventName) {
    case "Listed":
      return {
        type: "listed",
        listingId: id(args.listingId),
        seller: lower(args.seller),
        tokenId: id(args.tokenId),
        currency: lower(args.currency),
        price: args.price as bigint,
        log,
      };
    case "ListingCancelled":
      return { type: "listingCancelled", listingId: id(args.listingId), by: lower(args.by), log };
    case "Sale":
      return {
        type: "sold",
        listingId: id(args.listingId),
        buyer: lower(args.buyer),
        seller: lower(args.seller),
        tokenId: id(args.tokenId),
        currency: lower(args.currency),
        price: args.price as bigint,
        fee: args.fee as bigint,
        log,
      };
    case "ProceedsWithdrawn":
      return {
        type: "proceedsWithdrawn",
        account: lower(args.account),
        currency: lower(args.currency),
        amount: args.amount as bigint,
        log,
      };
    default:
      return ROLE_EVENTS.has(eventName) ? { type: "roleChanged", log } : { type: "other", name: eventName, log };
  }
}

function paymentTokenEvent({ eventName, args }: Decoded, log: LogRef): ChainEvent {
  switch (eventName) {
    case "Transfer":
      return {
        type: "paymentTokenTransferred",
        from: lower(args.from),
        to: lower(args.to),
        value: args.value as bigint,
        log,
      };
    case "Approval":
      return { type: "approval", tokenId: null, log };
    default:
      return ROLE_EVENTS.has(eventName) ? { type: "roleChanged", log } : { type: "other", name: eventName, log };
  }
}
