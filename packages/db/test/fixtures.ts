import type { NewCertificate, NewTransaction, NewUser } from "../src/rows.ts";
import type { Address, Hash } from "../src/schema/index.ts";

/** A distinct lowercase address per number. */
export const address = (n: number): Address => `0x${n.toString(16).padStart(40, "0")}`;

/** A distinct lowercase 32-byte hash per number. */
export const hash = (n: number): Hash => `0x${n.toString(16).padStart(64, "0")}`;

let counter = 0;
const next = () => ++counter;

export function newUser(overrides: Partial<NewUser> = {}): NewUser {
  const n = next();
  return {
    username: `user${n}`,
    email: `user${n}@example.com`,
    passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
    ...overrides,
  };
}

export function newTransaction(overrides: Partial<NewTransaction> = {}): NewTransaction {
  const n = next();
  return {
    txHash: hash(1_000_000 + n),
    fromAddress: address(1),
    toAddress: address(2),
    amount: 10n ** 18n,
    status: "completed",
    kind: "eth_transfer",
    currencyAddress: address(0),
    blockNumber: n,
    blockHash: hash(2_000_000 + n),
    ...overrides,
  };
}

export function newCertificate(overrides: Partial<NewCertificate> = {}): NewCertificate {
  const n = next();
  return {
    tokenId: 100_000 + n,
    ownerAddress: address(10),
    issuerAddress: address(11),
    ipfsHash: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    status: "valid",
    issuedAt: new Date("2025-01-01T00:00:00Z"),
    issueTxHash: hash(3_000_000 + n),
    issuedBlockNumber: n,
    blockNumber: n,
    blockHash: hash(4_000_000 + n),
    logIndex: 0,
    ...overrides,
  };
}
