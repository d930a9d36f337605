import { formatBytes } from "@certchain/storage";
import type { DocumentVerification, Verification } from "../routers/verify.ts";
import { Layout } from "./layout.tsx";
import { CertificateDetails, DocumentForm, type UploadPolicy } from "./verify-page.tsx";

/** The answer in plain words, for the certificate the verdict speaks for (the first match) or the one asked about. */
function headline(result: DocumentVerification): string {
  const tokenId = result.matches[0]?.tokenId ?? result.tokenId;
  switch (result.verdict) {
    case "valid":
      return `Valid: this document matches certificate ${tokenId}`;
    case "revoked":
      return `Revoked: this document matches certificate ${tokenId}, which is no longer valid`;
    case "expired":
      return `Expired: this document matches certificate ${tokenId}, which is no longer valid`;
    case "no_match":
      return `No match: this document does not match certificate ${tokenId}`;
    case "unknown":
      return result.tokenId === null
        ? "Unknown: no certificate names this document"
        : `Unknown: no certificate has number ${result.tokenId}`;
  }
}

/** What a certificate's own verdict means for the document, one line per match. */
const MATCH_VERDICTS: Record<Verification["verdict"], string> = {
  valid: "valid",
  revoked: "revoked, no longer valid",
  expired: "expired, no longer valid",
  unknown: "unknown",
};

/** `POST /verify/document`'s answer: whether the uploaded file is the one certified, and by which certificates. */
export function DocumentCheckPage(props: { result: DocumentVerification; fileName: string; upload: UploadPolicy }) {
  const { result } = props;
  const matched = result.matches.length > 0;
  return (
    <Layout title={`Document check: ${result.verdict.replace("_", " ")} · certchain`}>
      <h1>Document check</h1>
      <section class={`verdict ${result.verdict}`} role="status" aria-live="polite">
        <h2>{headline(result)}</h2>
        {result.verdict === "no_match" ? (
          <p>
            The file differs from the one certificate {result.tokenId} names: another file, or an altered one.{" "}
            <a href={`/verify/${result.tokenId}`}>See certificate {result.tokenId}</a>.
          </p>
        ) : null}
        {result.verdict === "unknown" && result.tokenId === null ? (
          <p>If this file was certified, it has been altered since, or it is another file.</p>
        ) : null}
      </section>
      <h2>The document you checked</h2>
      <dl>
        <dt>File</dt>
        <dd>{props.fileName || "(no name)"}</dd>
        <dt>Type</dt>
        <dd>{result.contentType}</dd>
        <dt>Size</dt>
        <dd>{formatBytes(result.size)}</dd>
        <dt>SHA-256</dt>
        <dd>{result.documentSha256}</dd>
        <dt>IPFS CID</dt>
        <dd>ipfs://{result.documentCid}</dd>
      </dl>
      {result.matches.map((match) => (
        <section aria-labelledby={`certificate-${match.tokenId}`}>
          <h2 id={`certificate-${match.tokenId}`}>
            Certificate {match.tokenId}: {MATCH_VERDICTS[match.verdict]}
          </h2>
          {match.verdict === "revoked" && match.revocationReason ? <p>Reason given: {match.revocationReason}</p> : null}
          <CertificateDetails result={match} documentCid={result.documentCid} />
          <p>
            <a href={`/verify/${match.tokenId}`}>Certificate {match.tokenId}'s own page</a>
          </p>
        </section>
      ))}
      {result.truncated ? (
        <p>More certificates name this document than one check covers; the newest were checked.</p>
      ) : null}
      <h2>{matched ? "Check another document" : "Try another file"}</h2>
      <DocumentForm upload={props.upload} />
    </Layout>
  );
}
