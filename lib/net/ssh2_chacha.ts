/**
 * ssh2's `chacha20-poly1305@openssh.com` (OpenSSH's default cipher) through
 * libcrypto. Installed by ssh2_crypto.ts on the prototypes of ssh2's
 * `ChaChaPolyCipherNative` and `ChaChaPolyDecipherNative`.
 *
 * Like ssh2's code (and OpenSSH's PROTOCOL.chacha20poly1305): the length is
 * encrypted with the second key half and decrypted early only to know how
 * much to read; the tag covers the encrypted length and body and is checked
 * in constant time before the body is decrypted or used; the nonce is the
 * sequence number; the same length limits (`Bad packet length`); a `false`
 * from `_onPayload` (after NEWKEYS) stops at that packet.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { ChaChaPolyContext, Libcrypto } from "./libcrypto.ts";
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

const CONTEXT = Symbol("postern.chachaContext");
const INBOUND = Symbol("postern.chachaInbound");

/** Fields of ssh2's ChaChaPolyCipherNative used here. */
export interface ChaChaCipher extends SealingCipher {
  _encKeyMain: Uint8Array;
  _encKeyPktLen: Uint8Array;
  allocPacket(payloadLength: number): Buffer;
  encrypt(packet: Uint8Array<ArrayBuffer>): void;
  free(): void;
  [CONTEXT]?: ChaChaPolyContext;
}

/** Fields of ssh2's ChaChaPolyDecipherNative used here. */
export interface ChaChaDecipher {
  inSeqno: number;
  _onPayload: (payload: Buffer) => unknown;
  _decKeyMain: Uint8Array;
  _decKeyPktLen: Uint8Array;
  decrypt(data: Uint8Array, p: number, dataLength: number): number | undefined;
  free(): void;
  [INBOUND]?: Inbound & { context: ChaChaPolyContext };
}

/**
 * Replaces sealing and opening on the two prototypes.
 *
 * @param cipher ChaChaPolyCipherNative.prototype
 * @param decipher ChaChaPolyDecipherNative.prototype
 * @param chachaPoly makes a libcrypto context from the 64-byte key
 */
export function installChaCha(
  cipher: ChaChaCipher,
  decipher: ChaChaDecipher,
  chachaPoly: NonNullable<Libcrypto["chachaPoly"]>,
): void {
  const { encrypt, free } = cipher;
  cipher.allocPacket = function (this: ChaChaCipher, payloadLength: number): Buffer {
    return allocSealedPacket(this, payloadLength, 8);
  };
  cipher.encrypt = function (this: ChaChaCipher, packet: Uint8Array<ArrayBuffer>): void {
    try {
      if (this._dead) return;
      // A packet allocated without tag room (never, once installed): ssh2's own code.
      if (!hasTagRoom(packet)) return encrypt.call(this, packet);
      const context = this[CONTEXT] ??= chachaPoly(Buffer.concat([
        this._encKeyMain,
        this._encKeyPktLen,
      ]));
      context.seal(packet, this.outSeqno);
      sendSealed(this, packet);
    } finally {
      releaseScratch(packet);
    }
  };
  cipher.free = function (this: ChaChaCipher): void {
    free.call(this);
    this[CONTEXT]?.free();
  };

  const decipherFree = decipher.free;
  decipher.decrypt = function (
    this: ChaChaDecipher,
    data: Uint8Array,
    p: number,
    dataLength: number,
  ): number | undefined {
    const s = this[INBOUND] ??= {
      ...newInbound(),
      context: chachaPoly(Buffer.concat([this._decKeyMain, this._decKeyPktLen])),
    };
    return openPackets(this, s, data, p, dataLength);
  };
  decipher.free = function (this: ChaChaDecipher): void {
    decipherFree.call(this);
    this[INBOUND]?.context.free();
  };
}

/**
 * Opens the packets in `data[p, dataLength)`: a partial packet waits for the
 * next call; the body is gathered encrypted, authenticated with the length
 * field, and only then decrypted and handed to `_onPayload`.
 */
function openPackets(
  decipher: ChaChaDecipher,
  s: Inbound & { context: ChaChaPolyContext },
  data: Uint8Array,
  p: number,
  dataLength: number,
): number | undefined {
  while (p < dataLength) {
    if (s.lengthBytes < 4) {
      while (s.lengthBytes < 4 && p < dataLength) s.lengthField[s.lengthBytes++] = data[p++];
      if (s.lengthBytes < 4) return;
      s.length = s.context.length(s.lengthField, decipher.inSeqno);
      if (s.length > MAX_PACKET_SIZE || s.length < 8 || (s.length & 7) !== 0) {
        throw new Error("Bad packet length");
      }
      s.packet = Buffer.allocUnsafe(s.length);
      s.position = 0;
    }
    const packet = s.packet!;
    if (s.position < s.length) {
      if (p >= dataLength) return;
      const n = Math.min(s.length - s.position, dataLength - p);
      packet.set(data.subarray(p, p + n), s.position);
      s.position += n;
      p += n;
      if (s.position < s.length) return;
    }
    const n = Math.min(TAG - s.tagBytes, dataLength - p);
    s.tag.set(data.subarray(p, p + n), s.tagBytes);
    s.tagBytes += n;
    p += n;
    if (s.tagBytes < TAG) return;
    if (!s.context.open(s.lengthField, packet, s.tag, decipher.inSeqno)) {
      throw new Error("Invalid MAC");
    }
    const payload = payloadOf(packet);
    decipher.inSeqno = (decipher.inSeqno + 1) >>> 0;
    resetInbound(s);
    const answer = decipher._onPayload(payload);
    if (answer !== undefined) return answer === false ? p : answer as number;
  }
}
