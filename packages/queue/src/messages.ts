/** A pub/sub message's JSON as an object, or null when it is not JSON or not an object (the caller checks fields). */
export function parseJsonObject(message: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
}
