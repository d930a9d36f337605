import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";

/**
 * The client's address. With `trustProxy` proxies in front (TRUST_PROXY), it is the `X-Forwarded-For` entry the
 * outermost trusted proxy added, counted from the right: entries further left were written by the client and can say
 * anything. Without proxies, the peer's address (undefined for in-process requests, as in tests).
 */
export function clientIp(c: Context, trustProxy = 0): string | undefined {
  const peer = peerAddress(c);
  if (trustProxy === 0) return peer;
  const forwarded = (c.req.header("x-forwarded-for") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  // The nearest proxy is the peer; each trusted proxy before it appended the address it saw.
  return forwarded[forwarded.length - trustProxy] ?? forwarded[0] ?? peer;
}

function peerAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}
