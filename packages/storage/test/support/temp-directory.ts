import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh directory under the OS temp folder; `remove()` deletes it with everything in it. */
export async function createTempDirectory(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "certchain-storage-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
