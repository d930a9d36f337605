import type { AppRouter } from "@certchain/api";
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  isNonJsonSerializable,
  splitLink,
  type TRPCClient,
} from "@trpc/client";
import { EventSource } from "eventsource";
import { type ApiKeyCredentials, signingFetch } from "./signing.ts";

export { type ApiKeyCredentials, signatureHeaders, signingFetch } from "./signing.ts";
export type { AppRouter };

export type ClientOptions = {
  /** The API's base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** A session token from `auth.login` / `auth.register`, sent as `Authorization: Bearer`. May change over time. */
  token?: string | (() => string | undefined);
  /**
   * An API key (`admin.createApiKey`) for server-to-server use, instead of a token: every request, uploads and
   * subscriptions included, is signed with it (HMAC-SHA256, see `signing.ts`) and acts as the key's owner.
   */
  apiKey?: ApiKeyCredentials;
  /** A `fetch` to use instead of the global one (tests, custom agents); used for subscriptions too. */
  fetch?: typeof fetch;
};

export type CertchainClient = TRPCClient<AppRouter>;

/**
 * A typed tRPC client for the certchain API: every procedure with its input and output types. Queries and mutations
 * are batched over HTTP, except those given a `FormData` (a document upload), which go alone as multipart;
 * subscriptions (`tx.onStatus`) stream over server-sent events. All of them carry the bearer token, or are signed
 * with the API key.
 *
 * ```ts
 * const client = createClient({ url: "http://127.0.0.1:3000" });
 * const { token } = await client.auth.login.mutate({ login: "alice", password: "…" });
 * const authed = createClient({ url: "http://127.0.0.1:3000", token });
 * const me = await authed.auth.profile.query();
 * authed.tx.onStatus.subscribe({ requestId }, { onData: (update) => console.log(update.status) });
 *
 * const service = createClient({ url: "http://127.0.0.1:3000", apiKey: { id: "ck_…", secret: "cks_…" } });
 * ```
 */
export function createClient(options: ClientOptions): CertchainClient {
  if (options.apiKey && options.token) throw new Error("createClient: give either token or apiKey, not both");
  const baseFetch = options.apiKey ? signingFetch(options.apiKey, options.fetch ?? fetch) : options.fetch;
  const token = typeof options.token === "function" ? options.token : () => options.token as string | undefined;
  const authorization = (): Record<string, string> => {
    const current = token();
    return current ? { authorization: `Bearer ${current}` } : {};
  };
  const url = `${options.url.replace(/\/$/, "")}/trpc`;
  const http = { url, headers: authorization, ...(baseFetch ? { fetch: baseFetch } : {}) };
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        // The `eventsource` package: Node 20 has no EventSource, and a browser's cannot send the Authorization
        // header. Its fetch runs at every (re)connection, so a changed token is picked up.
        true: httpSubscriptionLink({
          url,
          EventSource,
          eventSourceOptions: () => ({
            fetch: (input, init) =>
              (baseFetch ?? fetch)(input, { ...init, headers: { ...init.headers, ...authorization() } }),
          }),
        }),
        // A batch is one JSON body, so a FormData input travels on its own.
        false: splitLink({
          condition: (op) => isNonJsonSerializable(op.input),
          true: httpLink(http),
          false: httpBatchLink(http),
        }),
      }),
    ],
  });
}
