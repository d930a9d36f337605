/**
 * JSON with one spelling per value: object keys sorted by UTF-16 code units, no whitespace, numbers and strings as
 * `JSON.stringify` writes them. That is RFC 8785 (JCS), so the same metadata always has the same bytes and the same
 * CID, whoever builds it and in whatever order its fields were assigned.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, "$");
}

function serialize(value: unknown, path: string): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${path} is ${value}, which JSON cannot represent`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item, i) => serialize(item, `${path}[${i}]`)).join(",")}]`;
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const members = Object.entries(value as Record<string, unknown>)
      // An absent optional field and an undefined one must give the same bytes.
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, member]) => `${JSON.stringify(key)}:${serialize(member, `${path}.${key}`)}`);
    return `{${members.join(",")}}`;
  }
  throw new TypeError(`${path} is a ${typeof value === "object" ? value.constructor?.name : typeof value}, not JSON`);
}
