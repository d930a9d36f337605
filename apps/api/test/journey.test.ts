import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@certchain/client";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, repoRoot } from "@certchain/common";
import { freePort } from "@certchain/common/testing";
import { writeDeployment } from "@certchain/contracts";
import { users } from "@certchain/db";
import { type ServerType, serve } from "@hono/node-server";
import { eq } from "drizzle-orm";
import { parseEther } from "viem";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestApi, type TestApi } from "./helpers.ts";

/**
 * The whole product at once: the API served over HTTP, the relayer and the indexer running as the daemons operators
 * start (`apps/*\/src/main.ts`), anvil mining a block every 250 ms besides the ones transactions make, and a user's
 * journey driven only through the typed client — what a TypeScript integrator would write.
 */
const FINALITY_DEPTH = 2;
let api: TestApi;
let server: ServerType;
let url: string;
let deploymentsDir: string;
let miner: NodeJS.Timeout;
const daemons: ChildProcess[] = [];
const daemonOutput: string[] = [];

function startDaemon(name: "relayer" | "indexer", env: Record<string, string>): ChildProcess {
  const child = spawn(join(repoRoot, "node_modules/.bin/tsx"), [`apps/${name}/src/main.ts`], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk: Buffer) => daemonOutput.push(`[${name}] ${chunk.toString()}`);
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  daemons.push(child);
  return child;
}

beforeAll(async () => {
  api = await createTestApi();
  deploymentsDir = await mkdtemp(join(tmpdir(), "certchain-journey-"));
  writeDeployment(api.deployment, deploymentsDir);
  const port = await freePort();
  server = serve({ fetch: api.app.fetch, hostname: "127.0.0.1", port });
  url = `http://127.0.0.1:${port}`;
  const env = {
    NODE_ENV: "test",
    LOG_LEVEL: "warn",
    DATABASE_URL: api.database.url,
    REDIS_URL: api.deps.config.redisUrl,
    REDIS_PREFIX: api.deps.config.redisPrefix,
    ETH_NODE_URL: api.anvil.rpcUrl,
    CHAIN_ID: String(api.deps.config.chainId),
    DEPLOYMENTS_DIR: deploymentsDir,
    FINALITY_DEPTH: String(FINALITY_DEPTH),
    OPERATOR_PRIVATE_KEY: ANVIL_ACCOUNT_0_PRIVATE_KEY,
    RELAYER_POLL_MS: "100",
    RELAYER_PORT: String(await freePort()),
    INDEXER_PORT: String(await freePort()),
  };
  startDaemon("relayer", env);
  startDaemon("indexer", env);
  // Confirmations need blocks on top; a real chain makes them whether or not we send anything.
  miner = setInterval(() => {
    api.deps.chain.client.request({ method: "evm_mine" as never }).catch(() => {});
  }, 250);
}, 60_000);

afterAll(async () => {
  clearInterval(miner);
  for (const daemon of daemons) daemon.kill("SIGTERM");
  await Promise.all(
    daemons.map(
      (daemon) => new Promise((resolve) => (daemon.exitCode === null ? daemon.on("exit", resolve) : resolve(0))),
    ),
  );
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await api.close();
  await rm(deploymentsDir, { recursive: true, force: true });
});

async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}\n${daemonOutput.slice(-20).join("")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

type Client = ReturnType<typeof createClient>;

/** Waits for a request to be confirmed, failing loudly (with its error code) if it fails instead. */
async function confirmed(client: Client, requestId: string) {
  return eventually(`request ${requestId} to be confirmed`, async () => {
    const status = await client.tx.status.query({ requestId });
    if (status.status === "failed") throw new Error(`request ${requestId} failed: ${status.errorCode}`);
    return status.status === "confirmed" && status;
  });
}

async function signUp(username: string) {
  const anonymous = createClient({ url });
  await anonymous.auth.register.mutate({
    username,
    email: `${username}@journey.example`,
    password: "journey password",
  });
  const { token, user } = await anonymous.auth.login.mutate({ login: username, password: "journey password" });
  return { client: createClient({ url, token }), user };
}

test("a certificate's life: issued, indexed, listed, sold, revoked, verified, and every step in the history", async () => {
  // Accounts: the admin comes from the CLI in real life; here a registered user is promoted the same way (a row).
  const admin = await signUp("journey_admin");
  await api.deps.db.update(users).set({ role: "admin" }).where(eq(users.id, admin.user.id));
  const issuer = await signUp("journey_uni");
  const alice = await signUp("journey_alice");
  const bob = await signUp("journey_bob");
  expect(await alice.client.auth.profile.query()).toMatchObject({ username: "journey_alice", role: "user" });

  // The admin makes the university an issuer, in MySQL at once and on chain through the relayer.
  const grant = await admin.client.admin.grantIssuer.mutate({
    userId: issuer.user.id,
    idempotencyKey: "journey-grant",
  });
  await confirmed(admin.client, grant.requestId);
  expect(await issuer.client.auth.profile.query()).toMatchObject({ role: "issuer" });

  // The issuer certifies Alice's diploma; the document goes with it as a multipart upload.
  const form = new FormData();
  form.append("recipientUserId", String(alice.user.id));
  form.append("name", "Diploma in Journeys");
  form.append(
    "document",
    new File(["%PDF-1.7\n% journey diploma\n%%EOF\n"], "diploma.pdf", { type: "application/pdf" }),
  );
  form.append("idempotencyKey", "journey-issue");
  const issued = await issuer.client.certificates.create.mutate(form);
  await confirmed(issuer.client, issued.requestId);
  const [certificate] = (
    await eventually("the certificate to be indexed", async () => {
      const page = await alice.client.certificates.list.query({ owner: alice.user.walletAddress ?? "" });
      return page.items.length > 0 && page.items;
    })
  ).filter((item) => item.cid === issued.metadataCid);
  expect(certificate).toMatchObject({
    owner: alice.user.walletAddress,
    issuer: issuer.user.walletAddress,
    valid: true,
  });
  const tokenId = certificate?.tokenId ?? 0;
  expect(await createClient({ url }).certificates.verify.query({ tokenId })).toMatchObject({ verdict: "valid" });

  // Alice lists it for 0.1 ETH: the relayer approves the Marketplace first, then lists.
  const price = parseEther("0.1");
  const listed = await alice.client.market.list.mutate({
    tokenId,
    price: price.toString(),
    currency: "eth",
    idempotencyKey: "journey-list",
  });
  expect(listed.dependsOn).not.toBeNull();
  await confirmed(alice.client, listed.requestId);
  const listing = await eventually("the listing to be indexed", async () => {
    const page = await bob.client.market.listings.query({ tokenId });
    return page.items[0];
  });
  expect(listing).toMatchObject({ seller: alice.user.walletAddress, price: price.toString(), status: "active" });

  // Bob deposits ETH into his wallet (from outside the platform) and buys at the price he saw.
  await api.deps.chain.client.request({
    method: "anvil_setBalance" as never,
    params: [bob.user.walletAddress, `0x${parseEther("1").toString(16)}`] as never,
  });
  const bought = await bob.client.market.buy.mutate({
    listingId: listing.listingId,
    expectedPrice: price.toString(),
    idempotencyKey: "journey-buy",
  });
  await confirmed(bob.client, bought.requestId);
  await eventually("the new owner to be indexed", async () => {
    const row = await bob.client.certificates.get.query({ tokenId });
    return row.owner === bob.user.walletAddress;
  });
  expect((await bob.client.market.listings.query({ tokenId, status: "sold" })).items[0]).toMatchObject({
    buyer: bob.user.walletAddress,
  });

  // Alice withdraws her proceeds: her ETH balance grows by the price less the platform's fee.
  const before = BigInt((await alice.client.account.balance.query()).eth);
  const withdrawal = await alice.client.market.withdraw.mutate({ currency: "eth", idempotencyKey: "journey-withdraw" });
  const fee = BigInt(
    listing.fee ?? (await bob.client.market.listings.query({ tokenId, status: "sold" })).items[0]?.fee ?? 0,
  );
  expect(BigInt(withdrawal.amount)).toBe(price - fee);
  await confirmed(alice.client, withdrawal.requestId);
  const after = await eventually("Alice's balance to grow", async () => {
    const eth = BigInt((await alice.client.account.balance.query()).eth);
    return eth > before && eth;
  });
  // Gas comes out of the same wallet, so the gain is the proceeds less what the withdrawal cost.
  expect(after - before).toBeLessThanOrEqual(price - fee);
  expect(after - before).toBeGreaterThan((price - fee) / 2n);

  // The university revokes it; verification now says revoked, with the reason.
  const revoked = await issuer.client.certificates.invalidate.mutate({
    tokenId,
    reason: "awarded in error",
    idempotencyKey: "journey-revoke",
  });
  await confirmed(issuer.client, revoked.requestId);
  const verdict = await createClient({ url }).certificates.verify.query({ tokenId });
  expect(verdict).toMatchObject({ verdict: "revoked", revocationReason: "awarded in error" });
  await eventually("the revocation to be indexed", async () => {
    const row = await alice.client.certificates.get.query({ tokenId });
    return row.status === "invalid";
  });

  // Each user's history shows their side of every step, completed.
  const kindsOf = async (client: Client) =>
    eventually("every transaction to be completed", async () => {
      const { items } = await client.account.transactions.query({ limit: 50 });
      return items.every((item) => item.status === "completed") && items.map((item) => item.kind).sort();
    });
  expect(await kindsOf(issuer.client)).toEqual(expect.arrayContaining(["issue", "revoke"]));
  // Alice received the certificate and sold it; Bob bought it and held it when it was revoked.
  expect(await kindsOf(alice.client)).toEqual(expect.arrayContaining(["issue", "approve", "list", "buy", "withdraw"]));
  expect(await kindsOf(bob.client)).toEqual(expect.arrayContaining(["buy", "revoke"]));
  const sale = (await alice.client.account.transactions.query({ kind: "buy" })).items;
  expect(sale).toEqual([
    expect.objectContaining({ from: bob.user.walletAddress, to: alice.user.walletAddress, amount: price.toString() }),
  ]);
}, 180_000);
