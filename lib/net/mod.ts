/**
 * Fast socket plumbing for ssh2 under Deno: a Node-style socket over `Deno.Conn`,
 * a channel ↔ conn relay, and AES-GCM for ssh2 through libcrypto.
 *
 * @module
 */

export {
  ConnDuplex,
  type ConnDuplexOptions,
  denoConnDuplex,
  isGoneError,
  mapConnError,
  type NodeStyleError,
} from "./conn_duplex.ts";
export { type ChannelLike, relay, type RelayOptions, type RelayResult } from "./relay.ts";
export { type GcmBackend, installFastGcm } from "./ssh2_gcm.ts";
