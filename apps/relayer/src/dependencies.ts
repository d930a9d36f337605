import { type TxRequest, type TxRequestStatus, txRequests } from "@certchain/db";
import { eq, type SQL, sql } from "drizzle-orm";
import type { RelayerDeps } from "./deps.ts";
import { FatalError } from "./errors.ts";

/**
 * Dependent requests (`tx_requests.depends_on`): `list` after its `approve`, a token-priced `buy` after its allowance.
 * A dependent is neither simulated nor given a nonce until its dependency is mined, since its simulation would revert
 * against a chain without the dependency's effect; it fails with `dependency_failed` when the dependency fails.
 *
 * Once a dependent has a nonce it is tracked like any request. If a reorg sends its dependency back to `sent`, the
 * dependent is not held back again: from the same wallet (the usual case) its higher nonce keeps it after the
 * dependency anyway; from another wallet it may be mined first and revert, and then ends `failed` (`reverted`) like any
 * transaction that reverts on chain.
 */

/** The dependency is on chain: the dependent may be simulated and sent. */
const READY: readonly TxRequestStatus[] = ["mined", "confirmed"];
/** The dependency will never be on chain: the dependent fails. */
const FAILED: readonly TxRequestStatus[] = ["failed", "cancelled", "replaced"];

export type DependencyState =
  | { state: "ready" }
  | { state: "waiting"; dependsOn: string }
  | { state: "failed"; error: FatalError };

/**
 * SQL condition on `tx_requests` rows: no dependency, or one that is mined. Used where nonces are handed out, so a
 * request whose dependency is not on chain never gets one, whoever reserves.
 */
export const dependencyMet: SQL = sql`(${txRequests.dependsOn} IS NULL OR EXISTS (SELECT 1 FROM tx_requests AS dependency WHERE dependency.id = ${txRequests.dependsOn} AND dependency.status IN (${sql.join(
  READY.map((status) => sql`${status}`),
  sql`, `,
)})))`;

/** Where a request stands with respect to its dependency (one primary-key read when it has one). */
export async function dependencyState(deps: Pick<RelayerDeps, "db">, request: TxRequest): Promise<DependencyState> {
  if (!request.dependsOn) return { state: "ready" };
  const [dependency] = await deps.db
    .select({ id: txRequests.id, status: txRequests.status, errorCode: txRequests.errorCode })
    .from(txRequests)
    .where(eq(txRequests.id, request.dependsOn));
  return classifyDependency(request.dependsOn, dependency);
}

export function classifyDependency(
  dependsOn: string,
  dependency: { status: TxRequestStatus; errorCode: string | null } | undefined,
): DependencyState {
  if (!dependency) {
    // The foreign key makes this impossible; fail rather than wait forever if it ever happens.
    return {
      state: "failed",
      error: new FatalError("dependency_failed", `depends on request ${dependsOn}, which does not exist`),
    };
  }
  if (READY.includes(dependency.status)) return { state: "ready" };
  if (FAILED.includes(dependency.status)) {
    const reason = dependency.errorCode ? ` (${dependency.errorCode})` : "";
    return {
      state: "failed",
      error: new FatalError(
        "dependency_failed",
        `depends on request ${dependsOn}, which ended ${dependency.status}${reason}`,
      ),
    };
  }
  return { state: "waiting", dependsOn };
}
