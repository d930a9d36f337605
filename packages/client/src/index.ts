import type { AppRouter } from "@certchain/api";
import { createTRPCClient, httpBatchLink, type TRPCClient } from "@trpc/client";

export type { AppRouter };

export type ClientOptions = {
  /** The API's base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** A session token from `auth.login` / `auth.register`, sent as `Authorization: Bearer`. May change over time. */
  token?: string | (() => string | undefined);
  /** A `fetch` to use instead of the global one (tests, custom agents). */
  fetch?: typeof fetch;
};

export type CertchainClient = TRPCClient<AppRouter>;

/**
 * A typed tRPC client for the certchain API: every procedure with its input and output types, batched over HTTP.
 *
 * ```ts
 * const client = createClient({ url: "http://127.0.0.1:3000" });
 * const { token } = await client.auth.login.mutate({ login: "alice", password: "…" });
 * const authed = createClient({ url: "http://127.0.0.1:3000", token });
 * const me = await authed.auth.profile.query();
 * ```
 */
export function createClient(options: ClientOptions): CertchainClient {
  const token = typeof options.token === "function" ? options.token : () => options.token as string | undefined;
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${options.url.replace(/\/$/, "")}/trpc`,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        headers: () => {
          const current = token();
          return current ? { authorization: `Bearer ${current}` } : {};
        },
      }),
    ],
  });
}
