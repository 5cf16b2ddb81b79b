/**
 * What the libcrypto overrides of ssh2's AEAD ciphers share (ssh2_gcm.ts,
 * ssh2_chacha.ts): replacing `allocPacket`, `encrypt`, `decrypt` and `free`
 * on the prototypes of ssh2's native cipher classes, and reading incoming
 * packets (length field, body, tag) however the bytes are split. Each cipher
 * gives only how its libcrypto context seals and opens ({@link AeadCipher}).
 *
 * Like ssh2's code: a packet's length is checked against the cipher's limits
 * (`Bad packet length`) before its body is read; the tag is checked (`Invalid
 * MAC`) before any payload reaches `_onPayload`; a `false` from `_onPayload`
 * (after NEWKEYS) stops at that packet.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  allocSealedPacket,
  hasTagRoom,
  releaseScratch,
  type SealingCipher,
  sendSealed,
  TAG,
} from "./ssh2_packets.ts";

/** ssh2's limit on inbound packets (crypto.js MAX_PACKET_SIZE). */
export const MAX_PACKET_SIZE = 35000;

const SEALER = Symbol("postern.sealer");
const INBOUND = Symbol("postern.inbound");

/** Seals the outgoing packets of one ssh2 cipher (one key). */
export interface Sealer {
  /** Seals `packet` (allocated with tag room) in place, before it is written. */
  seal(packet: Uint8Array<ArrayBuffer>): void;
  /** Frees the libcrypto context. */
  free(): void;
}

/** Opens the incoming packets of one ssh2 decipher (one key), step by step as bytes arrive. */
export interface Opener {
  /** The packet length that the 4-byte length field as received announces. */
  length(lengthField: Uint8Array): number;
  /** A packet whose length passed the checks starts. */
  begin(lengthField: Uint8Array): void;
  /** Takes `data`, the next bytes of the sealed body, into `out` (decrypted or as they are). */
  update(data: Uint8Array, out: Uint8Array): void;
  /** True when `tag` authenticates the packet; `packet` then holds its clear body. */
  finish(lengthField: Uint8Array, packet: Buffer, tag: Uint8Array): boolean;
  /** Frees the libcrypto context. */
  free(): void;
}

/** What one AEAD cipher gives {@link installAead}. */
export interface AeadCipher<C, D> {
  /** The block size that padding aligns packets to: also a packet length's unit and minimum. */
  blockSize: number;
  /** The longest packet length (after the length field, before the tag) ssh2 accepts. */
  maxLength: number;
  /** The sealer for `cipher`'s key, made at its first packet. */
  sealer(cipher: C): Sealer;
  /** The opener for `decipher`'s key, made at its first bytes. */
  opener(decipher: D): Opener;
}

/** Fields and methods of ssh2's native cipher classes used here. */
export interface NativeCipher extends SealingCipher {
  allocPacket(payloadLength: number): Buffer;
  encrypt(packet: Uint8Array<ArrayBuffer>): void;
  free(): void;
  [SEALER]?: Sealer;
}

/** Fields and methods of ssh2's native decipher classes used here. */
export interface NativeDecipher {
  inSeqno: number;
  _onPayload: (payload: Buffer) => unknown;
  decrypt(data: Uint8Array, p: number, dataLength: number): number | undefined;
  free(): void;
  [INBOUND]?: Inbound;
}

/**
 * Replaces sealing and opening on the two prototypes of one cipher.
 *
 * @param cipher the prototype of ssh2's native cipher class
 * @param decipher the prototype of ssh2's native decipher class
 * @param aead how the cipher seals and opens
 * @example
 * ```ts
 * installAead(cipherPrototype, decipherPrototype, { blockSize: 16, maxLength, sealer, opener });
 * ```
 */
export function installAead<C extends NativeCipher, D extends NativeDecipher>(
  cipher: C,
  decipher: D,
  aead: AeadCipher<C, D>,
): void {
  const { encrypt, free } = cipher;
  cipher.allocPacket = function (this: C, payloadLength: number): Buffer {
    return allocSealedPacket(this, payloadLength, aead.blockSize);
  };
  cipher.encrypt = function (this: C, packet: Uint8Array<ArrayBuffer>): void {
    try {
      if (this._dead) return;
      // A packet allocated without tag room (never, once installed): ssh2's own code.
      if (!hasTagRoom(packet)) return encrypt.call(this, packet);
      (this[SEALER] ??= aead.sealer(this)).seal(packet);
      sendSealed(this, packet);
    } finally {
      releaseScratch(packet);
    }
  };
  cipher.free = function (this: C): void {
    free.call(this);
    this[SEALER]?.free();
  };

  const decipherFree = decipher.free;
  decipher.decrypt = function (
    this: D,
    data: Uint8Array,
    p: number,
    dataLength: number,
  ): number | undefined {
    const s = this[INBOUND] ??= newInbound(aead.opener(this));
    return openPackets(this, s, aead, data, p, dataLength);
  };
  decipher.free = function (this: D): void {
    decipherFree.call(this);
    this[INBOUND]?.opener.free();
  };
}

/** An incoming packet being read. */
interface Inbound {
  opener: Opener;
  /** The 4-byte length field as received. */
  lengthField: Uint8Array;
  lengthBytes: number;
  /** The packet length, once the length field is complete. */
  length: number;
  packet: Buffer | null;
  position: number;
  tag: Uint8Array;
  tagBytes: number;
}

/** A fresh {@link Inbound}. */
function newInbound(opener: Opener): Inbound {
  return {
    opener,
    lengthField: new Uint8Array(4),
    lengthBytes: 0,
    length: 0,
    packet: null,
    position: 0,
    tag: new Uint8Array(TAG),
    tagBytes: 0,
  };
}

/** Ready for the next packet. */
function resetInbound(s: Inbound): void {
  s.lengthBytes = 0;
  s.packet = null;
  s.position = 0;
  s.tagBytes = 0;
}

/**
 * Opens the packets in `data[p, dataLength)`: a partial packet waits for the
 * next call; the body is taken in as it arrives, and reaches `_onPayload`
 * only after its tag is verified.
 */
function openPackets<D extends NativeDecipher>(
  decipher: D,
  s: Inbound,
  aead: AeadCipher<unknown, D>,
  data: Uint8Array,
  p: number,
  dataLength: number,
): number | undefined {
  while (p < dataLength) {
    if (s.lengthBytes < 4) {
      while (s.lengthBytes < 4 && p < dataLength) s.lengthField[s.lengthBytes++] = data[p++];
      if (s.lengthBytes < 4) return;
      s.length = s.opener.length(s.lengthField);
      const { blockSize } = aead;
      if (s.length > aead.maxLength || s.length < blockSize || (s.length & (blockSize - 1)) !== 0) {
        throw new Error("Bad packet length");
      }
      s.opener.begin(s.lengthField);
      // A packet whose body and tag are all in this chunk is opened where it
      // lies, with no allocation or copy: the chunk is ssh2's to consume,
      // and nothing reads its ciphertext again.
      s.packet = dataLength - p >= s.length + TAG
        ? Buffer.from(data.buffer, data.byteOffset + p, s.length)
        : Buffer.allocUnsafe(s.length);
      s.position = 0;
    }
    const packet = s.packet!;
    if (s.position < s.length) {
      if (p >= dataLength) return;
      const n = Math.min(s.length - s.position, dataLength - p);
      s.opener.update(data.subarray(p, p + n), packet.subarray(s.position, s.position + n));
      s.position += n;
      p += n;
      if (s.position < s.length) return;
    }
    const n = Math.min(TAG - s.tagBytes, dataLength - p);
    s.tag.set(data.subarray(p, p + n), s.tagBytes);
    s.tagBytes += n;
    p += n;
    if (s.tagBytes < TAG) return;
    if (!s.opener.finish(s.lengthField, packet, s.tag)) throw new Error("Invalid MAC");
    const payload = payloadOf(packet);
    decipher.inSeqno = (decipher.inSeqno + 1) >>> 0;
    resetInbound(s);
    const answer = decipher._onPayload(payload);
    if (answer !== undefined) return answer === false ? p : answer as number;
  }
}

/**
 * The payload of an opened packet (after the padding length byte, before the
 * padding). Throws when the padding length runs past the packet.
 */
function payloadOf(packet: Buffer): Buffer {
  const padLength = packet[0];
  if (padLength + 1 > packet.length) throw new Error("Bad padding length");
  return Buffer.from(packet.buffer, packet.byteOffset + 1, packet.length - padLength - 1);
}
