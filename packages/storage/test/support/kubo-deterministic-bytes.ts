import { createCipheriv, createHash } from "node:crypto";

/**
 * The byte generator Kubo's own tests use for their published CIDs (`DeterministicRandomReaderBytes` in Kubo's
 * `test/cli/testutils/random_deterministic.go`): the ChaCha20 keystream with key SHA-256(seed), an all-zero 96-bit
 * nonce and block counter 0. Node's `chacha20` cipher takes a 16-byte IV of counter (4 bytes, little-endian) then
 * nonce, so an all-zero IV is exactly that. Encrypting zeros yields the keystream itself.
 */
export function* kuboDeterministicBytes(size: number, seed: string, chunkSize = 1024 * 1024): Generator<Uint8Array> {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("chacha20", key, Buffer.alloc(16));
  for (let produced = 0; produced < size; produced += chunkSize) {
    yield new Uint8Array(cipher.update(Buffer.alloc(Math.min(chunkSize, size - produced))));
  }
}

/** The same bytes in one buffer, for sizes that fit comfortably in memory. */
export function kuboDeterministicBuffer(size: number, seed: string): Uint8Array {
  return new Uint8Array(Buffer.concat([...kuboDeterministicBytes(size, seed)]));
}
