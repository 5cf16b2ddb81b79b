/**
 * Fast socket plumbing for ssh2 under Deno: a Node-style socket over `Deno.Conn`
 * and a channel ↔ conn relay.
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
