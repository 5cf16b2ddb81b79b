/**
 * Fast socket plumbing for ssh2 under Deno: a Node-style socket over `Deno.Conn`,
 * a channel ↔ conn relay, batched copies, and ssh2's AEAD ciphers through libcrypto.
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
export { batchCopy, type BatchCopyOptions, BatchQueue, Slabs } from "./batch_copy.ts";
export { type FastCiphers, installFastCiphers, reusePacketBuffers } from "./ssh2_crypto.ts";
