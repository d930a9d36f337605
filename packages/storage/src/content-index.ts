import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

/**
 * What UnixFS does not record about stored content: its media type. One small JSON file per root CID, written only
 * after every block of the content is on disk, so an entry here means "complete and servable"; content whose put
 * crashed half-way has blocks but no entry, and simply is not there.
 */

const contentRecordSchema = z.object({
  contentType: z.string().min(1),
  size: z.number().int().nonnegative(),
  storedAt: z.iso.datetime(),
});

export type ContentRecord = z.infer<typeof contentRecordSchema>;

export type ContentIndex = {
  /** The record for a canonical CID, or `undefined` when nothing is stored under it. */
  read(cid: string): Promise<ContentRecord | undefined>;
  /**
   * Records `record` unless the CID already has one, and returns the record that holds: the first writer wins, also
   * between concurrent puts, so a content type served with `immutable` caching never changes afterwards.
   */
  add(cid: string, record: ContentRecord): Promise<ContentRecord>;
};

export function createContentIndex(directory: string): ContentIndex {
  // Two characters from the end of the CID spread records over ~1000 folders, as blockstore-fs does for blocks
  // (the start of a CID is the same for every one of them).
  const folderOf = (cid: string) => join(directory, cid.slice(-3, -1));
  const pathOf = (cid: string) => join(folderOf(cid), `${cid}.json`);

  const read = async (cid: string): Promise<ContentRecord | undefined> => {
    let text: string;
    try {
      text = await readFile(pathOf(cid), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    const parsed = contentRecordSchema.safeParse(parseJson(text));
    if (!parsed.success) throw new Error(`content index record ${pathOf(cid)} is damaged: ${parsed.error.message}`);
    return parsed.data;
  };

  const add = async (cid: string, record: ContentRecord): Promise<ContentRecord> => {
    await mkdir(folderOf(cid), { recursive: true });
    // Write a private temporary file, then hard-link it into place: `link` fails if the name exists, which makes
    // "create if absent" atomic, and readers never see a half-written record.
    const temporary = join(folderOf(cid), `.${cid}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await writeFile(temporary, JSON.stringify(record));
      await link(temporary, pathOf(cid));
      return record;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const existing = await read(cid);
      if (!existing) throw new Error(`content index record for ${cid} vanished while being added`);
      return existing;
    } finally {
      // Also after a failed write: nothing half-written stays behind.
      await unlink(temporary).catch(() => {});
    }
  };

  return { read, add };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
