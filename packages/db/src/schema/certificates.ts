import { bigint, datetime, index, mysqlEnum, mysqlTable, text, unique, varchar } from "drizzle-orm/mysql-core";
import {
  address,
  addressCheck,
  asciiString,
  blockNumber,
  createdAt,
  hash,
  hashCheck,
  hexDigestCheck,
  logIndex,
  rowId,
  updatedAt,
} from "./columns.ts";

export const certificateStatuses = ["valid", "invalid"] as const;
export type CertificateStatus = (typeof certificateStatuses)[number];

/**
 * One row per CertificateRegistry token, written only by the indexer (the chain is the truth; the table can be rebuilt
 * from it). The first seven columns are the seed's `certificates` table exactly. `status` is `invalid` once the token
 * is revoked; expiry is not a status change on chain, so "valid now" is `status = 'valid' AND (expires_at IS NULL OR
 * expires_at > now)`, as `isValid(tokenId)` computes it.
 *
 * `block_number` / `block_hash` / `log_index` point at the log that last changed the row (issue, transfer or
 * revocation); the indexer's undo log restores the previous image when a reorg removes that block.
 *
 * List queries page by `token_id` (the certificate's public id): every list index ends with it.
 */
export const certificates = mysqlTable(
  "certificates",
  {
    id: rowId("id").primaryKey().autoincrement(),
    /** The ERC-721 token id: sequential from 1 on chain, so a signed BIGINT (the seed's type) holds it. */
    tokenId: bigint("token_id", { mode: "number" }).notNull(),
    ownerAddress: address("owner_address").notNull(),
    /**
     * The CID in `tokenURI` (`ipfs://<cid>`). CIDs are well under 255 characters; the contract only refuses an empty
     * one, so the indexer must flag (not truncate) a longer value.
     */
    ipfsHash: varchar("ipfs_hash", { length: 255 }).notNull(),
    status: mysqlEnum("status", certificateStatuses).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),

    issuerAddress: address("issuer_address").notNull(),
    /** Timestamp of the block that issued the token (UTC), as `issuedAt` on chain. */
    issuedAt: datetime("issued_at").notNull(),
    /** Expiry chosen by the issuer (UTC); NULL when the certificate never expires (`expiresAt = 0` on chain). */
    expiresAt: datetime("expires_at"),
    /** Timestamp of the block that revoked it (UTC); NULL while not revoked. */
    revokedAt: datetime("revoked_at"),
    /** Who revoked it: the issuer or an admin. */
    revokedByAddress: address("revoked_by_address"),
    /** The reason given to `revoke`; TEXT because the chain does not bound it (the indexer truncates at 64 KiB). */
    revocationReason: text("revocation_reason"),
    /** The issuing transaction and block, kept when later events move `block_number` on. */
    issueTxHash: hash("issue_tx_hash").notNull(),
    issuedBlockNumber: blockNumber("issued_block_number").notNull(),

    blockNumber: blockNumber("block_number").notNull(),
    blockHash: hash("block_hash").notNull(),
    logIndex: logIndex("log_index").notNull(),
  },
  (t) => [
    unique("certificates_token_id_uq").on(t.tokenId),
    index("certificates_owner_token_idx").on(t.ownerAddress, t.tokenId),
    index("certificates_issuer_token_idx").on(t.issuerAddress, t.tokenId),
    index("certificates_status_token_idx").on(t.status, t.tokenId),
    // Verification by document: the metadata CIDs that name a document lead here.
    index("certificates_ipfs_hash_idx").on(t.ipfsHash),
    addressCheck("certificates", t.ownerAddress),
    addressCheck("certificates", t.issuerAddress),
    addressCheck("certificates", t.revokedByAddress),
    hashCheck("certificates", t.issueTxHash),
    hashCheck("certificates", t.blockHash),
  ],
);

/**
 * Which certificate metadata names which document: written by the API when it stores a certificate's metadata (the
 * metadata's CID is what goes on chain, the document's CID is inside it). Verification by document computes the
 * uploaded file's CID, finds the metadata CIDs here, and then the certificates whose `ipfs_hash` is one of them.
 * Content-addressed, so rows are never updated; a row whose metadata never made it on chain simply matches nothing.
 */
export const certificateDocuments = mysqlTable(
  "certificate_documents",
  {
    id: rowId("id").primaryKey().autoincrement(),
    documentCid: asciiString("document_cid", { length: 255 }).notNull(),
    metadataCid: asciiString("metadata_cid", { length: 255 }).notNull(),
    /** The document's SHA-256 (hex), as the metadata states it. */
    documentSha256: asciiString("document_sha256", { length: 64 }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique("certificate_documents_document_metadata_uq").on(t.documentCid, t.metadataCid),
    index("certificate_documents_metadata_cid_idx").on(t.metadataCid),
    hexDigestCheck("certificate_documents", t.documentSha256, 64),
  ],
);
