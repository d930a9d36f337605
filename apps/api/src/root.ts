import { accountRouter } from "./routers/account.ts";
import { adminRouter } from "./routers/admin.ts";
import { authRouter } from "./routers/auth.ts";
import { certificatesRouter } from "./routers/certificates.ts";
import { marketRouter } from "./routers/market.ts";
import { txRouter } from "./routers/tx.ts";
import { router } from "./trpc.ts";

/** Every router of the API, by the names in ARCHITECTURE.md; clients import only `type AppRouter`. */
export const appRouter = router({
  auth: authRouter,
  certificates: certificatesRouter,
  market: marketRouter,
  account: accountRouter,
  tx: txRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;
