import { isIP } from "node:net";
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
 * The address to count a client by: an IPv4 address as it is (also written IPv4-mapped, `::ffff:192.0.2.1` or
 * `::ffff:c000:201`, or with a port, as some proxies forward it), an IPv6 address by its /64 (`2001:db8:0:1::/64`).
 * A single host or home is given a whole /64, so counting by /128 would give it 2^64 budgets. Anything else is
 * counted as written.
 */
export function addressBucket(ip: string): string {
  const address = withoutPort(ip.trim()).split("%")[0] ?? "";
  const version = isIP(address);
  if (version === 4) return address;
  if (version !== 6) return ip;
  const groups = ipv6Groups(address);
  // ::ffff:0:0/96 is IPv4 written as IPv6.
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

/** `[2001:db8::1]:443` and `192.0.2.1:51234` without their ports; anything else as it is. */
function withoutPort(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed?.[1]) return bracketed[1];
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
  return v4WithPort?.[1] ?? address;
}

/** The eight 16-bit groups of a valid IPv6 address, `::` expanded and a trailing dotted IPv4 part as two groups. */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] =>
    part === ""
      ? []
      : part.split(":").flatMap((group) => {
          if (!group.includes(".")) return [Number.parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split(".").map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = "", tail] = address.split("::");
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}
