/**
 * What can go wrong in the content store, one class per case, so callers switch on the class (the API maps each to
 * an HTTP status: see the table in the package README) and never on message text. Messages are one line meant for
 * the person who sent the request.
 */
export class StorageError extends Error {
  override name = "StorageError";
  /** True when the same call may succeed later (a remote IPFS node that was down); false for bad input. */
  readonly retryable: boolean = false;
}

/** Text that is not a CID (HTTP 400). */
export class InvalidCidError extends StorageError {
  override name = "InvalidCidError";
  constructor(
    readonly text: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`"${preview(text)}" is not a valid IPFS CID: ${reason}`, options);
  }
}

/** A well-formed CID that this store has never stored (HTTP 404). */
export class ContentNotFoundError extends StorageError {
  override name = "ContentNotFoundError";
  constructor(
    readonly cid: string,
    options?: ErrorOptions,
  ) {
    super(`No content is stored under ${cid}`, options);
  }
}

/** A byte range outside the stored content (HTTP 416). */
export class InvalidRangeError extends StorageError {
  override name = "InvalidRangeError";
  constructor(
    readonly cid: string,
    readonly size: number,
    message: string,
  ) {
    super(message);
  }
}

/** An upload over the size limit (HTTP 413). */
export class UploadTooLargeError extends StorageError {
  override name = "UploadTooLargeError";
  constructor(
    readonly size: number,
    readonly maxBytes: number,
  ) {
    super(`The file is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit`);
  }
}

/** An upload whose bytes are not of an allowed type, or not of the type it claims to be (HTTP 415). */
export class UnsupportedContentTypeError extends StorageError {
  override name = "UnsupportedContentTypeError";
  constructor(
    message: string,
    /** The type found in the bytes, or `undefined` when they match no known format. */
    readonly detectedType: string | undefined,
    readonly declaredType: string | undefined,
    readonly allowedTypes: readonly string[],
  ) {
    super(message);
  }
}

/** Stored content that is not certchain certificate metadata (a CID from elsewhere, or damaged). */
export class InvalidMetadataError extends StorageError {
  override name = "InvalidMetadataError";
}

/**
 * The configured IPFS node (Kubo RPC) failed or answered something we cannot trust. Retryable: content already
 * stored locally stays stored, and calling `put` again re-sends the blocks and the pin.
 */
export class IpfsNodeError extends StorageError {
  override name = "IpfsNodeError";
  override readonly retryable = true;
}

const preview = (text: string) => (text.length > 80 ? `${text.slice(0, 77)}...` : text);

/** Sizes as people read them: bytes below 1 KiB, otherwise KiB or MiB with at most one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const [value, unit] = bytes < 1024 * 1024 ? [bytes / 1024, "KiB"] : [bytes / (1024 * 1024), "MiB"];
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
}
