export { type BroadcastResult, connectChain, type RelayerChain } from "./chain.ts";
export { createHttpApp } from "./http.ts";
export { createRelayer, type Relayer, type RelayerOptions } from "./relayer.ts";
