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

/**
 * The address to count a client by: an IPv4 address as it is (also when written IPv4-mapped, `::ffff:192.0.2.1`), an
 * IPv6 address by its /64 (`2001:db8:0:1::/64`). A single host or home is given a whole /64, so counting by /128
 * would give it 2^64 budgets.
 */
export function addressBucket(ip: string): string {
  const address = ip.split("%")[0] ?? ip;
  if (!address.includes(":")) return address;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  const [head = "", tail] = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  // An embedded IPv4 address at the end stands for two groups.
  const width = (part: string[]) => part.reduce((sum, group) => sum + (group.includes(".") ? 2 : 1), 0);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const zeros = tail === undefined ? 0 : Math.max(0, 8 - width(left) - width(right));
  const prefix = [...left, ...Array<string>(zeros).fill("0"), ...right].slice(0, 4);
  if (prefix.length < 4 || prefix.some((group) => !/^[0-9a-f]{1,4}$/i.test(group))) return address.toLowerCase();
  return `${prefix.map((group) => Number.parseInt(group, 16).toString(16)).join(":")}::/64`;
}
