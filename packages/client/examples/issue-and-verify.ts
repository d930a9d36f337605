/**
 * Registers an issuer and a student, has an admin make the issuer an issuer, issues the student a certificate and
 * verifies it: the whole path through the typed client, against `npm run dev`.
 *
 *   npx tsx packages/client/examples/issue-and-verify.ts --admin <username> --admin-password <password> [--url …]
 */
import { parseArgs } from "node:util";
import { type CertchainClient, createClient } from "@certchain/client";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:3000" },
    admin: { type: "string" },
    "admin-password": { type: "string" },
  },
});
if (!values.admin || !values["admin-password"]) {
  console.error("usage: issue-and-verify.ts --admin <username> --admin-password <password> [--url <api url>]");
  process.exit(1);
}
const url = values.url;
const password = "correct horse battery staple";
const run = Date.now().toString(36); // fresh names on every run

/**
 * Follows a chain-changing request over SSE until it is mined: enough for the next step (the relayer builds on mined
 * transactions; `confirmed` comes FINALITY_DEPTH blocks later). Rejects when it ends any other way.
 */
function untilMined(client: CertchainClient, requestId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const subscription = client.tx.onStatus.subscribe(
      { requestId },
      {
        onData: (update) => {
          console.log(`  ${update.status}${update.txHash ? ` ${update.txHash}` : ""}`);
          if (update.status === "mined" || update.status === "confirmed") {
            subscription.unsubscribe();
            resolve();
          } else if (update.status !== "queued" && update.status !== "signed" && update.status !== "sent") {
            reject(new Error(`request ${requestId} ended ${update.status} (${update.errorCode})`));
          }
        },
        onError: reject,
      },
    );
  });
}

// 1. Two new accounts. Registration returns a session already; the issuer also logs in, as a returning user would.
const anonymous = createClient({ url });
const issuer = await anonymous.auth.register.mutate({
  username: `uni_${run}`,
  email: `uni_${run}@example.org`,
  password,
});
const student = await anonymous.auth.register.mutate({
  username: `alice_${run}`,
  email: `alice_${run}@example.org`,
  password,
});
console.log(`registered ${issuer.user.username} and ${student.user.username} (wallet ${student.user.walletAddress})`);

// 2. An admin grants the issuer role: in MySQL at once, on chain through the relayer. Wait until it is mined.
const { token: adminToken } = await anonymous.auth.login.mutate({
  login: values.admin,
  password: values["admin-password"],
});
const admin = createClient({ url, token: adminToken });
const grant = await admin.admin.grantIssuer.mutate({ userId: issuer.user.id, idempotencyKey: `grant-${run}` });
console.log("granting the issuer role…");
await untilMined(admin, grant.requestId);

// 3. The issuer logs in and issues a certificate, with a document, to the student's wallet.
const { token: issuerToken } = await anonymous.auth.login.mutate({ login: `uni_${run}@example.org`, password });
const university = createClient({ url, token: issuerToken });
const form = new FormData();
form.append("recipient", student.user.walletAddress ?? "");
form.append("recipientName", "Example Student");
form.append("name", "BSc Computer Science");
form.append("description", "Awarded with honours");
form.append("idempotencyKey", `issue-${run}`);
form.append(
  "document",
  new File([JSON.stringify({ student: student.user.username, grade: "A" })], "transcript.json", {
    type: "application/json",
  }),
);
const issued = await university.certificates.create.mutate(form);
console.log(`issuing ${issued.metadataCid}…`);
await untilMined(university, issued.requestId);

// 4. Anyone can verify it. The token id comes from the indexer, which follows the chain a moment behind.
let tokenId: number | undefined;
for (let attempt = 0; tokenId === undefined && attempt < 60; attempt += 1) {
  const page = await anonymous.certificates.list.query({ owner: student.user.walletAddress ?? "" });
  tokenId = page.items[0]?.tokenId;
  if (tokenId === undefined) await new Promise((resolve) => setTimeout(resolve, 500));
}
if (tokenId === undefined) throw new Error("the certificate was not indexed within 30 s; is the indexer running?");
const verification = await anonymous.certificates.verify.query({ tokenId });
console.log(`certificate ${tokenId}: ${verification.verdict} (issuer ${verification.onChain?.issuer})`);
