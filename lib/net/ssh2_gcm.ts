/**
 * ssh2's AES-GCM (`aes128-gcm@openssh.com`, `aes256-gcm@openssh.com`, RFC
 * 5647) through libcrypto. Installed by ssh2_crypto.ts on the prototypes of
 * ssh2's `AESGCMCipherNative` and `AESGCMDecipherNative`; what all AEAD
 * ciphers share is in ssh2_aead.ts.
 *
 * Like ssh2's code: the length is additional data, in clear; the body is
 * decrypted as it arrives; the nonce's 64-bit invocation counter (IV bytes
 * 4..11) advances per packet, as the sequence numbers do.
 *
 * @module
 */

import type { Libcrypto } from "./libcrypto.ts";
import {
  installAead,
  MAX_PACKET_SIZE,
  type NativeCipher,
  type NativeDecipher,
} from "./ssh2_aead.ts";
import { TAG } from "./ssh2_packets.ts";

/** Fields of ssh2's AESGCMCipherNative used here. */
export interface GcmCipher extends NativeCipher {
  _encKey: Uint8Array;
  _encIV: Uint8Array;
}

/** Fields of ssh2's AESGCMDecipherNative used here. */
export interface GcmDecipher extends NativeDecipher {
  _decipherKey: Uint8Array;
  _decipherIV: Uint8Array;
}

/**
 * Replaces sealing and opening on the two prototypes.
 *
 * @param cipher AESGCMCipherNative.prototype
 * @param decipher AESGCMDecipherNative.prototype
 * @param libcrypto the loaded library
 */
export function installGcm(cipher: GcmCipher, decipher: GcmDecipher, libcrypto: Libcrypto): void {
  installAead(cipher, decipher, {
    blockSize: 16,
    // ssh2 counts the length field and the tag against its limit here.
    maxLength: MAX_PACKET_SIZE - 4 - TAG,
    sealer(cipher) {
      const context = libcrypto.gcm(cipher._encKey, true);
      return {
        seal(packet) {
          context.seal(packet, cipher._encIV);
          ivIncrement(cipher._encIV);
        },
        free: () => context.free(),
      };
    },
    opener(decipher) {
      const context = libcrypto.gcm(decipher._decipherKey, false);
      return {
        length: (lengthField) => new DataView(lengthField.buffer).getUint32(0),
        begin: (lengthField) => context.begin(decipher._decipherIV, lengthField),
        update: (data, out) => context.update(data, out),
        finish(_lengthField, _packet, tag) {
          if (!context.finish(tag)) return false;
          ivIncrement(decipher._decipherIV);
          return true;
        },
        free: () => context.free(),
      };
    },
  });
}

/** Increments the invocation counter (IV bytes 4..11, big-endian), as ssh2 does. */
function ivIncrement(iv: Uint8Array): void {
  for (let i = 11; i >= 4; i--) {
    iv[i] = (iv[i] + 1) & 0xff;
    if (iv[i] !== 0) return;
  }
}
