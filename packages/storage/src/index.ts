export { canonicalJson } from "./canonical-json.ts";
export {
  type CertificateMetadata,
  certificateMetadataSchema,
  documentCidOf,
  type MetadataAttribute,
  metadataAttributeSchema,
} from "./certificate-metadata.ts";
export { canonicalCid, cidToText, parseCid } from "./cid.ts";
export { type Content, computeCid } from "./compute-cid.ts";
export {
  type ByteRange,
  type ContentInfo,
  type ContentStore,
  type ContentStoreOptions,
  createContentStore,
  type StoredContent,
} from "./content-store.ts";
export {
  ContentNotFoundError,
  formatBytes,
  InvalidCidError,
  InvalidMetadataError,
  InvalidRangeError,
  IpfsNodeError,
  StorageError,
  UnsupportedContentTypeError,
  UploadTooLargeError,
} from "./errors.ts";
export {
  DEFAULT_ALLOWED_UPLOAD_TYPES,
  DEFAULT_UPLOAD_MAX_BYTES,
  detectContentType,
  type InspectedUpload,
  inspectUpload,
  type UploadPolicy,
} from "./inspect-upload.ts";
export { KUBO_CID_V1_DEFAULTS, type KuboImportParameters, kuboImporterOptions } from "./kubo-import.ts";
export { isInlineSafe, JPEG, JSON_TYPE, normalizeMediaType, PDF, PNG } from "./media-types.ts";
export { readCertificateMetadata } from "./read-certificate-metadata.ts";
export {
  buildCertificateMetadata,
  type CertificateMetadataInput,
  type StoredCertificateMetadata,
  storeCertificateMetadata,
} from "./store-certificate-metadata.ts";
