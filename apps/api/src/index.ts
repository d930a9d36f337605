export { createApp } from "./app.ts";
export { type ApiDeps, type Context, createContextInner } from "./context.ts";
export { type AppRouter, appRouter } from "./root.ts";
