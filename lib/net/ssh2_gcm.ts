/**
 * ssh2's AES-GCM (`aes128-gcm@openssh.com`, `aes256-gcm@openssh.com`, RFC
 * 5647) through libcrypto. Installed by ssh2_crypto.ts on the prototypes of
 * ssh2's `AESGCMCipherNative` and `AESGCMDecipherNative`.
 *
 * Like ssh2's code: the length is additional data, in clear; the nonce's
 * 64-bit invocation counter (IV bytes 4..11) and the sequence numbers advance
 * per packet; the same length limits (`Bad packet length`); a bad tag throws
 * (`Invalid MAC`) before any payload is used; a `false` from `_onPayload`
 * (after NEWKEYS) stops at that packet.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { Buffer as NodeBuffer } from "node:buffer";
import type { GcmContext, Libcrypto } from "./libcrypto.ts";
import {
  allocSealedPacket,
  hasTagRoom,
  type Inbound,
  MAX_PACKET_SIZE,
  newInbound,
  payloadOf,
  releaseScratch,
  resetInbound,
  type SealingCipher,
  sendSealed,
  TAG,
} from "./ssh2_packets.ts";

const CONTEXT = Symbol("postern.gcmContext");
const INBOUND = Symbol("postern.gcmInbound");

/** Fields of ssh2's AESGCMCipherNative used here. */
export interface GcmCipher extends SealingCipher {
  _encKey: Uint8Array;
  _encIV: Uint8Array;
  allocPacket(payloadLength: number): Buffer;
  encrypt(packet: Uint8Array<ArrayBuffer>): void;
  free(): void;
  [CONTEXT]?: GcmContext;
}

/** Fields of ssh2's AESGCMDecipherNative used here. */
export interface GcmDecipher {
  inSeqno: number;
  _onPayload: (payload: Buffer) => unknown;
  _decipherKey: Uint8Array;
  _decipherIV: Uint8Array;
  decrypt(data: Uint8Array, p: number, dataLength: number): number | undefined;
  free(): void;
  [INBOUND]?: Inbound & { context: GcmContext };
}

/**
 * Replaces sealing and opening on the two prototypes.
 *
 * @param cipher AESGCMCipherNative.prototype
 * @param decipher AESGCMDecipherNative.prototype
 * @param libcrypto the loaded library
 */
export function installGcm(cipher: GcmCipher, decipher: GcmDecipher, libcrypto: Libcrypto): void {
  const { encrypt, free } = cipher;
  cipher.allocPacket = function (this: GcmCipher, payloadLength: number): Buffer {
    return allocSealedPacket(this, payloadLength, 16);
  };
  cipher.encrypt = function (this: GcmCipher, packet: Uint8Array<ArrayBuffer>): void {
    try {
      if (this._dead) return;
      // A packet allocated without tag room (never, once installed): ssh2's own code.
      if (!hasTagRoom(packet)) return encrypt.call(this, packet);
      (this[CONTEXT] ??= libcrypto.gcm(this._encKey, true)).seal(packet, this._encIV);
      ivIncrement(this._encIV);
      sendSealed(this, packet);
    } finally {
      releaseScratch(packet);
    }
  };
  cipher.free = function (this: GcmCipher): void {
    free.call(this);
    this[CONTEXT]?.free();
  };

  const decipherFree = decipher.free;
  decipher.decrypt = function (
    this: GcmDecipher,
    data: Uint8Array,
    p: number,
    dataLength: number,
  ): number | undefined {
    const s = this[INBOUND] ??= {
      ...newInbound(),
      context: libcrypto.gcm(this._decipherKey, false),
    };
    return openPackets(this, s, data, p, dataLength);
  };
  decipher.free = function (this: GcmDecipher): void {
    decipherFree.call(this);
    this[INBOUND]?.context.free();
  };
}

/**
 * Opens the packets in `data[p, dataLength)`: a partial packet waits for the
 * next call; ciphertext is decrypted as it arrives into the packet buffer,
 * which reaches `_onPayload` only after its tag is verified.
 */
function openPackets(
  decipher: GcmDecipher,
  s: Inbound & { context: GcmContext },
  data: Uint8Array,
  p: number,
  dataLength: number,
): number | undefined {
  while (p < dataLength) {
    if (s.lengthBytes < 4) {
      while (s.lengthBytes < 4 && p < dataLength) s.lengthField[s.lengthBytes++] = data[p++];
      if (s.lengthBytes < 4) return;
      s.length = new DataView(s.lengthField.buffer).getUint32(0);
      if (s.length + 20 > MAX_PACKET_SIZE || s.length < 16 || (s.length & 15) !== 0) {
        throw new Error("Bad packet length");
      }
      s.context.begin(decipher._decipherIV, s.lengthField);
      s.packet = NodeBuffer.allocUnsafe(s.length);
      s.position = 0;
    }
    const packet = s.packet!;
    if (s.position < s.length) {
      if (p >= dataLength) return;
      const n = Math.min(s.length - s.position, dataLength - p);
      s.context.update(data.subarray(p, p + n), packet.subarray(s.position, s.position + n));
      s.position += n;
      p += n;
      if (s.position < s.length) return;
    }
    const n = Math.min(TAG - s.tagBytes, dataLength - p);
    s.tag.set(data.subarray(p, p + n), s.tagBytes);
    s.tagBytes += n;
    p += n;
    if (s.tagBytes < TAG) return;
    if (!s.context.finish(s.tag)) throw new Error("Invalid MAC");
    const payload = payloadOf(packet);
    decipher.inSeqno = (decipher.inSeqno + 1) >>> 0;
    ivIncrement(decipher._decipherIV);
    resetInbound(s);
    const answer = decipher._onPayload(payload);
    if (answer !== undefined) return answer === false ? p : answer as number;
  }
}

/** Increments the invocation counter (IV bytes 4..11, big-endian), as ssh2 does. */
function ivIncrement(iv: Uint8Array): void {
  for (let i = 11; i >= 4; i--) {
    iv[i] = (iv[i] + 1) & 0xff;
    if (iv[i] !== 0) return;
  }
}
