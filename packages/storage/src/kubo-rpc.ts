import { systemErrorCode } from "@certchain/common";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { IpfsNodeError } from "./errors.ts";

/**
 * The few Kubo RPC commands the content store needs (https://docs.ipfs.tech/reference/kubo/rpc/), over plain
 * `fetch`. We push our own blocks with `block/put` rather than re-adding the file with `add`: that pins exactly the
 * DAG we computed, whatever the node's own import settings are.
 */
export type KuboRpcClient = {
  /** Stores one block on the node; fails if the node derives a different CID for it. */
  putBlock(cid: CID, block: Uint8Array): Promise<void>;
  /** Pins a DAG recursively, so the node's garbage collection keeps it. */
  pin(cid: CID): Promise<void>;
  /** Fetches one block (from the node's store or, through it, the IPFS network). */
  getBlock(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
};

export type KuboRpcClientOptions = {
  /** Base URL of the RPC API, e.g. `http://127.0.0.1:5001`; user and password in it become Basic auth. */
  apiUrl: string;
  /** Per-request limit; a block the node must look for on the network can otherwise hang for minutes. */
  timeoutMs: number;
};

/** Our blocks are at most a 256 KiB chunk or a small node; Kubo itself refuses blocks over 1 MiB unless told to. */
const MAX_BLOCK_BYTES = 2 * 1024 * 1024;

const DAG_PB_CODE = 0x70;

export function createKuboRpcClient(options: KuboRpcClientOptions): KuboRpcClient {
  const base = new URL(options.apiUrl);
  const authorization =
    base.username || base.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString("base64")}`
      : undefined;
  base.username = "";
  base.password = "";
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  // Named in errors without credentials, so messages can be logged.
  const display = base.origin + base.pathname.replace(/\/$/, "");

  const call = async (
    command: string,
    parameters: Record<string, string>,
    init: { body?: FormData; signal?: AbortSignal } = {},
  ): Promise<Response> => {
    const url = new URL(`api/v0/${command}`, base);
    for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
    const timeout = AbortSignal.timeout(options.timeoutMs);
    let response: Response;
    try {
      // Every Kubo RPC command is a POST, reads included.
      response = await fetch(url, {
        method: "POST",
        headers: authorization ? { authorization } : {},
        ...(init.body ? { body: init.body } : {}),
        signal: init.signal ? AbortSignal.any([timeout, init.signal]) : timeout,
      });
    } catch (error) {
      throw new IpfsNodeError(
        `Could not reach the IPFS node at ${display} for ${command}: ${describeFetchError(error)}`,
        {
          cause: error,
        },
      );
    }
    if (!response.ok) {
      throw new IpfsNodeError(
        `The IPFS node at ${display} refused ${command} (HTTP ${response.status}): ${await errorMessage(response)}`,
      );
    }
    return response;
  };

  return {
    async putBlock(cid, block) {
      const codec = cid.code === raw.code ? "raw" : cid.code === DAG_PB_CODE ? "dag-pb" : undefined;
      if (!codec) throw new IpfsNodeError(`Cannot push ${cid}: only raw and dag-pb blocks are supported`);
      const form = new FormData();
      form.append("file", new Blob([new Uint8Array(block)]));
      const response = await call(
        "block/put",
        { "cid-codec": codec, mhtype: "sha2-256", pin: "false" },
        { body: form },
      );
      const { Key } = (await response.json()) as { Key?: unknown };
      // Compared by multihash: the node may print the CID in another version or base.
      if (typeof Key !== "string" || !sameMultihash(Key, cid)) {
        throw new IpfsNodeError(`The IPFS node at ${display} stored block ${cid} as ${String(Key)}`);
      }
    },

    async pin(cid) {
      const response = await call("pin/add", { arg: cid.toString(), recursive: "true" });
      const { Pins } = (await response.json()) as { Pins?: unknown };
      if (!Array.isArray(Pins) || Pins.length === 0) {
        throw new IpfsNodeError(`The IPFS node at ${display} did not confirm the pin of ${cid}`);
      }
    },

    async getBlock(cid, requestOptions = {}) {
      const response = await call("block/get", { arg: cid.toString() }, requestOptions);
      let block: Uint8Array;
      try {
        block = new Uint8Array(await response.arrayBuffer());
      } catch (error) {
        throw new IpfsNodeError(
          `Reading block ${cid} from the IPFS node at ${display} failed: ${describeFetchError(error)}`,
          {
            cause: error,
          },
        );
      }
      if (block.length > MAX_BLOCK_BYTES) {
        throw new IpfsNodeError(`The IPFS node at ${display} returned ${block.length} bytes for block ${cid}`);
      }
      return block;
    },
  };
}

function sameMultihash(text: string, cid: CID): boolean {
  try {
    return Buffer.from(CID.parse(text).multihash.bytes).equals(cid.multihash.bytes);
  } catch {
    return false;
  }
}

/** Kubo answers errors as `{ "Message": "...", "Code": 0, "Type": "error" }`; anything else is shown as text. */
async function errorMessage(response: Response): Promise<string> {
  const text = (await response.text()).trim();
  try {
    const { Message } = JSON.parse(text) as { Message?: unknown };
    if (typeof Message === "string") return Message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200) || response.statusText;
}

function describeFetchError(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  const code = systemErrorCode(error);
  if (code === "ECONNREFUSED") return "connection refused — is the node running, and is IPFS_API_URL right?";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "unknown host — check IPFS_API_URL";
  return code ?? (error instanceof Error ? error.message : String(error));
}
