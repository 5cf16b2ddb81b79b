/**
 * Outgoing packets of the libcrypto overrides of ssh2's AEAD ciphers
 * (ssh2_aead.ts): allocated with room for the tag, optionally in one reused
 * buffer shared by every connection.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";

/** Bytes of the AEAD tag after each packet. */
export const TAG = 16;

/**
 * The buffer packets are sealed in for connections whose socket copies each
 * write at once. A packet is allocated, sealed and written in one synchronous
 * run, so one buffer serves every connection (an idle one holds none); when
 * it is in use, a packet gets a buffer of its own.
 */
const scratch = { buffer: Buffer.allocUnsafe(0), inUse: false };

/** `_onWrite` functions of connections whose socket copies each write at once. */
export const copyingSockets: WeakSet<object> = new WeakSet<object>();

/** The fields of ssh2's native cipher classes used here. */
export interface SealingCipher {
  outSeqno: number;
  _onWrite: (data: Uint8Array) => void;
  _dead: boolean;
}

/**
 * A cleartext packet for `payloadLength` bytes, as ssh2 lays it out (length,
 * padding length, payload at offset 5, random padding to `blockSize`), plus
 * room for the tag so it can be sealed in place. For connections enabled in
 * {@link copyingSockets}, the shared scratch buffer (a new one when a
 * packet in it has not been written yet).
 */
export function allocSealedPacket(
  cipher: SealingCipher,
  payloadLength: number,
  blockSize: number,
): Buffer {
  let packetLength = 4 + 1 + payloadLength;
  let padLength = blockSize - ((packetLength - 4) & (blockSize - 1));
  if (padLength < 4) padLength += blockSize;
  packetLength += padLength;
  const size = packetLength + TAG;
  let packet: Buffer;
  if (copyingSockets.has(cipher._onWrite)) {
    // In use means a packet in it was not written: ssh2 queues packets during
    // a key exchange, and a connection may die with one queued. That packet
    // keeps the buffer; the scratch gets a new one, so no connection ever
    // waits on another's queue.
    if (scratch.inUse || scratch.buffer.length < size) {
      scratch.buffer = Buffer.allocUnsafe(Math.max(size, 36 * 1024));
    }
    scratch.inUse = true;
    packet = scratch.buffer.subarray(0, size);
  } else {
    packet = Buffer.allocUnsafe(size);
  }
  packet.writeUInt32BE(packetLength - 4, 0);
  packet[4] = padLength;
  randomFillSync(packet, 5 + payloadLength, padLength);
  return packet;
}

/** True when `packet` has the tag room {@link allocSealedPacket} leaves. */
export function hasTagRoom(packet: Uint8Array): boolean {
  return packet.length === 4 + new DataView(packet.buffer, packet.byteOffset).getUint32(0) + TAG;
}

/** Writes a sealed packet. */
export function sendSealed(cipher: SealingCipher, packet: Uint8Array): void {
  cipher.outSeqno = (cipher.outSeqno + 1) >>> 0;
  cipher._onWrite(packet);
}

/**
 * Frees the scratch buffer when `packet` is in it: call once the packet was
 * written, or dropped (a dead cipher, a failed seal), so that the next packet
 * of any connection may use it.
 */
export function releaseScratch(packet: Uint8Array): void {
  if (packet.buffer === scratch.buffer.buffer) scratch.inUse = false;
}
