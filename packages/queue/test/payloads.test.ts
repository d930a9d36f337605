import { describe, expect, test } from "vitest";
import { parseTxRequestPayload, txRequestPayloads } from "../src/payloads.ts";

describe("parseTxRequestPayload", () => {
  test("default: addresses are lowercased and amounts stay decimal strings", () => {
    expect(
      parseTxRequestPayload("eth_transfer", { to: "0x000000000000000000000000000000000000dEaD", amount: "10" }),
    ).toEqual({ kind: "eth_transfer", payload: { to: "0x000000000000000000000000000000000000dead", amount: "10" } });
  });

  test("behavior: every request kind has a schema", () => {
    expect(Object.keys(txRequestPayloads).sort()).toEqual([
      "approve",
      "buy",
      "cancel",
      "eth_transfer",
      "grant_issuer",
      "issue",
      "list",
      "noop",
      "revoke",
      "revoke_issuer",
      "token_transfer",
      "withdraw",
    ]);
  });

  test.each([
    ["eth_transfer", { to: "0x1234", amount: "1" }, "to"],
    ["eth_transfer", { to: "0x000000000000000000000000000000000000dead", amount: "0" }, "amount"],
    ["issue", { to: "0x000000000000000000000000000000000000dead", cid: "", expiresAt: "1" }, "cid"],
    [
      "buy",
      { listingId: "1", expectedPrice: "1.5", currency: "0x0000000000000000000000000000000000000000" },
      "expectedPrice",
    ],
    ["approve", { asset: "house", tokenId: "1" }, "asset"],
  ] as const)("error: %s with a bad field names the field", (kind, payload, field) => {
    expect(() => parseTxRequestPayload(kind, payload)).toThrow(field);
  });

  test("error: a payload never carries a private key through unknown fields", () => {
    const parsed = parseTxRequestPayload("withdraw", {
      currency: "0x0000000000000000000000000000000000000000",
      privateKey: "0xsecret",
    });
    expect(parsed.payload).not.toHaveProperty("privateKey");
  });
});
