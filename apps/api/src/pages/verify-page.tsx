import { formatBytes } from "@certchain/storage";
import type { Verification } from "../routers/verify.ts";
import { Layout } from "./layout.tsx";

/** What the document form may send: `UPLOAD_MAX_BYTES` and `UPLOAD_ALLOWED_TYPES`, shown next to the field. */
export type UploadPolicy = { maxBytes: number; allowedTypes: readonly string[] };

const TYPE_NAMES: Readonly<Record<string, string>> = {
  "application/pdf": "PDF",
  "image/png": "PNG",
  "image/jpeg": "JPEG",
  "application/json": "JSON",
};
const typeName = (type: string) => TYPE_NAMES[type] ?? type;

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

/**
 * Checks a file against the certificates that name it (optionally one certificate): posted as multipart, answered
 * by `/verify/document` with a page, so it needs no JavaScript either.
 */
export function DocumentForm(props: {
  upload: UploadPolicy;
  tokenId?: string | undefined;
  error?: string | undefined;
}) {
  const describedBy = props.error ? "document-hint document-error" : "document-hint";
  return (
    <form method="post" action="/verify/document" enctype="multipart/form-data">
      <div class="field">
        <label for="document">Document</label>
        <input
          id="document"
          name="document"
          type="file"
          required
          accept={props.upload.allowedTypes.join(",")}
          aria-describedby={describedBy}
          aria-invalid={props.error ? "true" : undefined}
        />
        <p id="document-hint" class="hint">
          {props.upload.allowedTypes.map(typeName).join(", ")}, at most {formatBytes(props.upload.maxBytes)}. The file
          is compared, not kept.
        </p>
      </div>
      <div class="field">
        <label for="document-token-id">Certificate number (optional)</label>
        <input
          id="document-token-id"
          name="tokenId"
          inputmode="numeric"
          pattern="[0-9]+"
          value={props.tokenId ?? ""}
          aria-describedby="document-token-hint"
        />
        <p id="document-token-hint" class="hint">
          Leave empty to find every certificate that names this document.
        </p>
      </div>
      <button type="submit">Check document</button>
      {props.error ? (
        <p id="document-error" role="alert">
          {props.error}
        </p>
      ) : null}
    </form>
  );
}

export function VerifyFormPage(props: {
  upload: UploadPolicy;
  tokenId?: string | undefined;
  error?: string | undefined;
  /** The document form's certificate number and message, when it is shown again after a refused upload. */
  documentTokenId?: string | undefined;
  documentError?: string | undefined;
}) {
  return (
    <Layout title="Verify a certificate · certchain">
      <h1>Verify a certificate</h1>
      <p>Enter the certificate's number to check it against the blockchain.</p>
      <TokenForm tokenId={props.tokenId} error={props.error} />
      <h2>Check a document</h2>
      <p>Have the certified file itself? Check that it is the one a certificate names.</p>
      <DocumentForm upload={props.upload} tokenId={props.documentTokenId} error={props.documentError} />
    </Layout>
  );
}

const when = (iso: string | null | undefined, none: string) => (iso ? new Date(iso).toUTCString() : none);

/** What the chain says about a certificate, with links to its metadata and document. */
export function CertificateDetails(props: { result: Verification; documentCid?: string | undefined }) {
  const { result } = props;
  const chain = result.onChain;
  return (
    <>
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
    </>
  );
}

export function VerificationPage(props: {
  result: Verification;
  documentCid?: string | undefined;
  upload: UploadPolicy;
}) {
  const { result } = props;
  return (
    <Layout title={`Certificate ${result.tokenId}: ${result.verdict} · certchain`}>
      <h1>Certificate {result.tokenId}</h1>
      <section class={`verdict ${result.verdict}`} role="status" aria-live="polite">
        <h2>{HEADLINES[result.verdict]}</h2>
        {result.verdict === "revoked" && result.revocationReason ? (
          <p>Reason given: {result.revocationReason}</p>
        ) : null}
      </section>
      <CertificateDetails result={result} documentCid={props.documentCid} />
      <h2>Check another certificate</h2>
      <TokenForm />
      {result.onChain ? (
        <>
          <h2>Check a document against this certificate</h2>
          <DocumentForm upload={props.upload} tokenId={String(result.tokenId)} />
        </>
      ) : null}
    </Layout>
  );
}
