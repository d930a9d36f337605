import { users } from "@certchain/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { appRouter } from "../src/root.ts";
import { bearer, createTestApi, type TestApi } from "./helpers.ts";
import { access, type Level } from "./procedure-access.ts";

/**
 * Function-level authorization (OWASP API5), generated from the router: every procedure must have an entry here, so
 * a new procedure cannot ship without someone deciding who may call it. Object-level checks (one user on another's
 * object) live with each procedure's own tests.
 */
const roles = ["anonymous", "user", "issuer", "admin"] as const;
type Role = (typeof roles)[number];

/** Issuer and admin are separate capabilities: an admin is not automatically an issuer. */
function allowed(role: Role, level: Level): boolean {
  if (level === "public") return true;
  if (role === "anonymous") return false;
  if (level === "user") return true;
  return role === level;
}

let api: TestApi;

beforeAll(async () => {
  api = await createTestApi();
  for (const role of ["user", "issuer", "admin"] as const) {
    await api.mutation("auth.register", {
      username: `matrix_${role}`,
      email: `${role}@matrix.example`,
      password: "long enough pw",
    });
    await api.deps.db
      .update(users)
      .set({ role })
      .where(eq(users.username, `matrix_${role}`));
  }
});
afterAll(() => api.close());

/** A new session per case, since the logout cases end the one they use. */
async function sessionFor(role: Role): Promise<Record<string, string>> {
  if (role === "anonymous") return {};
  const login = await api.mutation("auth.login", { login: `matrix_${role}`, password: "long enough pw" });
  return bearer(login.body.result.data.token);
}

describe("authorization matrix", () => {
  test("behavior: every procedure of the router has an entry", () => {
    const procedures = Object.keys(appRouter._def.procedures).sort();
    expect(procedures).toEqual(Object.keys(access).sort());
  });

  const cases = Object.entries(access).flatMap(([path, entry]) => roles.map((role) => [path, role, entry] as const));
  test.each(cases)("%s as %s", async (path, role, entry) => {
    const headers = await sessionFor(role);
    const call = entry.kind === "mutation" ? api.mutation : api.query;
    const result = await call(path, entry.input, headers);
    const denied = result.status === 401 || result.status === 403;
    if (allowed(role, entry.level)) {
      expect(denied, `${path} should be open to ${role}, got ${result.status}`).toBe(false);
      expect(result.status).toBeLessThan(500);
    } else {
      expect(result.status).toBe(role === "anonymous" ? 401 : 403);
    }
  });
});
