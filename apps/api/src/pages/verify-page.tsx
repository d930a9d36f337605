import type { Verification } from "../routers/verify.ts";
import { Layout } from "./layout.tsx";

/** The headline for each verdict, in plain words. */
const HEADLINES: Record<Verification["verdict"], string> = {
  valid: "Valid certificate",
  revoked: "Revoked: this certificate is no longer valid",
  expired: "Expired: this certificate is no longer valid",
  unknown: "Unknown: no certificate has this number",
};

function TokenForm(props: { tokenId?: string | undefined; error?: string | undefined }) {
  return (
    <form method="get" action="/verify" aria-describedby={props.error ? "token-error" : undefined}>
      <label for="tokenId">Certificate number (token id)</label>
      <input
        id="tokenId"
        name="tokenId"
        inputmode="numeric"
        pattern="[0-9]+"
        required
        value={props.tokenId ?? ""}
        aria-invalid={props.error ? "true" : undefined}
      />
      <button type="submit">Verify</button>
      {props.error ? (
        <p id="token-error" role="alert">
          {props.error}
        </p>
      ) : null}
    </form>
  );
}

export function VerifyFormPage(props: { tokenId?: string | undefined; error?: string | undefined }) {
  return (
    <Layout title="Verify a certificate · certchain">
      <h1>Verify a certificate</h1>
      <p>Enter the certificate's number to check it against the blockchain.</p>
      <TokenForm tokenId={props.tokenId} error={props.error} />
    </Layout>
  );
}

const when = (iso: string | null | undefined, none: string) => (iso ? new Date(iso).toUTCString() : none);

export function VerificationPage(props: { result: Verification; documentCid?: string | undefined }) {
  const { result } = props;
  const chain = result.onChain;
  return (
    <Layout title={`Certificate ${result.tokenId}: ${result.verdict} · certchain`}>
      <h1>Certificate {result.tokenId}</h1>
      <section class={`verdict ${result.verdict}`} role="status" aria-live="polite">
        <h2>{HEADLINES[result.verdict]}</h2>
        {result.verdict === "revoked" && result.revocationReason ? (
          <p>Reason given: {result.revocationReason}</p>
        ) : null}
      </section>
      {chain ? (
        <dl>
          <dt>Issuer</dt>
          <dd>{chain.issuer}</dd>
          <dt>Holder</dt>
          <dd>{chain.owner}</dd>
          <dt>Issued</dt>
          <dd>{when(chain.issuedAt, "unknown")}</dd>
          <dt>Expires</dt>
          <dd>{when(chain.expiresAt, "never")}</dd>
          {chain.revokedAt ? (
            <>
              <dt>Revoked</dt>
              <dd>{when(chain.revokedAt, "")}</dd>
            </>
          ) : null}
          <dt>Confirmations</dt>
          <dd>{result.confirmations ?? "not yet indexed"}</dd>
          <dt>Metadata</dt>
          <dd>
            <a href={`/ipfs/${chain.cid}`}>{chain.tokenUri}</a>
          </dd>
          {props.documentCid ? (
            <>
              <dt>Document</dt>
              <dd>
                <a href={`/ipfs/${props.documentCid}`}>ipfs://{props.documentCid}</a>
              </dd>
            </>
          ) : null}
          <dt>Read at block</dt>
          <dd>{chain.blockNumber}</dd>
        </dl>
      ) : null}
      {result.index.state === "mismatch" ? (
        <section class="verdict notice">
          <h2>Our records differ from the blockchain</h2>
          <p>The verdict above comes from the blockchain. Our index disagrees on:</p>
          <ul>
            {result.index.mismatches.map((mismatch) => (
              <li>{mismatch}</li>
            ))}
          </ul>
        </section>
      ) : null}
      <h2>Check another certificate</h2>
      <TokenForm />
    </Layout>
  );
}
