/**
 * ssh2's `chacha20-poly1305@openssh.com` (OpenSSH's default cipher) through
 * libcrypto. Installed by ssh2_crypto.ts on the prototypes of ssh2's
 * `ChaChaPolyCipherNative` and `ChaChaPolyDecipherNative`; what all AEAD
 * ciphers share is in ssh2_aead.ts.
 *
 * Like ssh2's code (and OpenSSH's PROTOCOL.chacha20poly1305): the length is
 * encrypted with the second key half and decrypted early only to know how
 * much to read; the body is gathered encrypted; the tag covers the encrypted
 * length and body and is checked in constant time before the body is
 * decrypted or used; the nonce is the sequence number.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Libcrypto } from "./libcrypto.ts";
import {
  installAead,
  MAX_PACKET_SIZE,
  type NativeCipher,
  type NativeDecipher,
} from "./ssh2_aead.ts";

/** Fields of ssh2's ChaChaPolyCipherNative used here. */
export interface ChaChaCipher extends NativeCipher {
  _encKeyMain: Uint8Array;
  _encKeyPktLen: Uint8Array;
}

/** Fields of ssh2's ChaChaPolyDecipherNative used here. */
export interface ChaChaDecipher extends NativeDecipher {
  _decKeyMain: Uint8Array;
  _decKeyPktLen: Uint8Array;
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
  installAead(cipher, decipher, {
    blockSize: 8,
    maxLength: MAX_PACKET_SIZE,
    sealer(cipher) {
      const context = chachaPoly(Buffer.concat([cipher._encKeyMain, cipher._encKeyPktLen]));
      return {
        seal: (packet) => context.seal(packet, cipher.outSeqno),
        free: () => context.free(),
      };
    },
    opener(decipher) {
      const context = chachaPoly(Buffer.concat([decipher._decKeyMain, decipher._decKeyPktLen]));
      return {
        length: (lengthField) => context.length(lengthField, decipher.inSeqno),
        begin() {},
        update: (data, out) => out.set(data),
        finish: (lengthField, packet, tag) =>
          context.open(lengthField, packet, tag, decipher.inSeqno),
        free: () => context.free(),
      };
    },
  });
}
