/**
 * The largest amount a DECIMAL(65,0) column holds: 10^65 − 1.
 *
 * The seed fixes `transactions.amount` as DECIMAL(65,0), and 65 digits is MySQL's maximum precision, while a Solidity
 * uint256 can need 78. Every wei column (amounts, prices, fees) therefore uses DECIMAL(65,0), and:
 * - the API refuses larger inputs with a 400 naming the field (no one holds 10^65 wei: that is 10^47 ETH);
 * - the indexer, which cannot refuse what the chain says, stores such an amount as NULL where the column allows it,
 *   or flags the row (a listing becomes `stale`), and logs it; it never truncates or wraps a value.
 */
export const DECIMAL65_MAX: bigint = 10n ** 65n - 1n;

/** True when `value` fits a DECIMAL(65,0) wei column: 0 ≤ value ≤ 10^65 − 1. */
export function fitsDecimal65(value: bigint): boolean {
  return value >= 0n && value <= DECIMAL65_MAX;
}
