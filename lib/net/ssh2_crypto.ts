/**
 * ssh2's packet ciphers through the system libcrypto (ssh2 1.17.0, pinned in
 * deno.json): AES-GCM and chacha20-poly1305@openssh.com.
 *
 * Why: under Deno, ssh2 seals and opens every packet with `node:crypto`
 * (AES-GCM: a `createCipheriv` per packet; chacha20-poly1305: three ChaCha20
 * ciphers and a WebAssembly Poly1305 per packet). Profiled on the gateway
 * under a bulk `proxy:` transfer with aes128-gcm, sealing was ~47% of its
 * busy CPU: Deno's `node:crypto` AES-GCM runs at ~100–190 MB/s on the
 * benchmark machine, where libcrypto does ~4 GB/s. Every byte from a node to
 * a user is sealed once by the gateway, so that bound the data path.
 *
 * How: {@link installFastCiphers} finds the prototypes of ssh2's native
 * cipher classes through instances made by ssh2's own `createCipher` and
 * `createDecipher` (the classes are not exported) and replaces their
 * `allocPacket`, `encrypt`, `decrypt` and `free` (ssh2_aead.ts, with
 * ssh2_gcm.ts and ssh2_chacha.ts). Packets are sealed in place (allocated
 * with room for the tag, as ssh2's optional native binding does) and written
 * once instead of three or four times; incoming payloads reach ssh2 only after their tag
 * checks out. Every ssh2 connection of the process, server or client, uses
 * them. Without libcrypto or the `ffi` permission nothing changes.
 * `POSTERN_SSH_CRYPTO=ssh2` keeps ssh2's code, for measurements.
 *
 * Guarded: installs only on ssh2 1.17.0 without its native binding and when
 * the prototypes have the expected names and fields; libcrypto passes
 * known-answer tests first (libcrypto.ts). tests/unit/net_ssh2_crypto_test.ts
 * checks packets against `node:crypto` and ssh2's behaviour (split reads,
 * forged tags, bad lengths, NEWKEYS); tests/integration/
 * net_ssh2_crypto_openssh_test.ts runs stock OpenSSH through an ssh2 server
 * with each cipher while it re-keys every megabyte.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  SSH2_VERSION,
  ssh2CryptoModule as ssh2Crypto,
  ssh2VersionMatches,
} from "./ssh2_internals.ts";
import { ConnDuplex } from "./conn_duplex.ts";
import { loadLibcrypto } from "./libcrypto.ts";
import { type ChaChaCipher, type ChaChaDecipher, installChaCha } from "./ssh2_chacha.ts";
import { type GcmCipher, type GcmDecipher, installGcm } from "./ssh2_gcm.ts";
import { copyingSockets } from "./ssh2_packets.ts";

export { SSH2_VERSION };

/** The ciphers sealed and opened by libcrypto; empty when ssh2 keeps its own code. */
export interface FastCiphers {
  gcm: boolean;
  chacha20Poly1305: boolean;
}

let installed: FastCiphers | undefined;

/**
 * Replaces ssh2's AES-GCM and chacha20-poly1305 code once (idempotent) with
 * libcrypto's. On another ssh2 version, when its internals do not look as
 * expected, or without a usable libcrypto, nothing is changed.
 *
 * @returns which ciphers now run on libcrypto
 * @example
 * ```ts
 * installFastCiphers(); // { gcm: true, chacha20Poly1305: true } with OpenSSL 3
 * ```
 */
export function installFastCiphers(): FastCiphers {
  if (installed) return installed;
  installed = { gcm: false, chacha20Poly1305: false };
  if (!ssh2VersionMatches || ssh2Crypto.bindingAvailable) return installed;
  if (Deno.env.get("POSTERN_SSH_CRYPTO") === "ssh2") return installed;
  const gcm = {
    cipher: nativePrototype("cipher", "aes128-gcm@openssh.com", "AESGCMCipherNative", 16, [
      "_encKey",
      "_encIV",
    ]),
    decipher: nativePrototype("decipher", "aes128-gcm@openssh.com", "AESGCMDecipherNative", 16, [
      "_decipherKey",
      "_decipherIV",
    ]),
  };
  const chacha = {
    cipher: nativePrototype(
      "cipher",
      "chacha20-poly1305@openssh.com",
      "ChaChaPolyCipherNative",
      64,
      ["_encKeyMain", "_encKeyPktLen"],
    ),
    decipher: nativePrototype(
      "decipher",
      "chacha20-poly1305@openssh.com",
      "ChaChaPolyDecipherNative",
      64,
      ["_decKeyMain", "_decKeyPktLen"],
    ),
  };
  const libcrypto = loadLibcrypto();
  if (!libcrypto) return installed;
  if (gcm.cipher && gcm.decipher) {
    installGcm(gcm.cipher as GcmCipher, gcm.decipher as GcmDecipher, libcrypto);
    installed.gcm = true;
  }
  if (chacha.cipher && chacha.decipher && libcrypto.chachaPoly) {
    installChaCha(
      chacha.cipher as ChaChaCipher,
      chacha.decipher as ChaChaDecipher,
      libcrypto.chachaPoly,
    );
    installed.chacha20Poly1305 = true;
  }
  return installed;
}

/**
 * Lets `connection` (an ssh2 server `Connection` or `Client`) seal its
 * packets in one reused buffer instead of a new one per packet, when its
 * socket is a {@link ConnDuplex}, whose `write()` copies the bytes at once.
 * Call it before the key exchange ends, e.g. in the server's 'connection'
 * listener. Saves an allocation per packet (GC work on bulk transfers).
 *
 * @param connection an ssh2 Connection or Client
 * @returns true when enabled (a libcrypto cipher in use and the socket qualifies)
 * @example
 * ```ts
 * const server = new ssh2.Server({ hostKeys }, (client) => { reusePacketBuffers(client); });
 * ```
 */
export function reusePacketBuffers(connection: unknown): boolean {
  const ciphers = installFastCiphers();
  if (!ciphers.gcm && !ciphers.chacha20Poly1305) return false;
  const c = connection as { _sock?: unknown; _protocol?: { _onWrite?: unknown } };
  const onWrite = c._protocol?._onWrite;
  if (!(c._sock instanceof ConnDuplex) || typeof onWrite !== "function") return false;
  copyingSockets.add(onWrite);
  return true;
}

/**
 * The prototype of one of ssh2's native cipher classes, made through ssh2's
 * own factory, if it has the expected name, methods and fields.
 */
function nativePrototype(
  kind: "cipher" | "decipher",
  algorithm: string,
  className: string,
  keyLength: number,
  fields: string[],
): object | undefined {
  const info = ssh2Crypto.CIPHER_INFO?.[algorithm];
  if (!info) return undefined;
  const key = Buffer.alloc(keyLength);
  const iv = info.ivLen ? Buffer.alloc(info.ivLen) : undefined;
  let probe: Record<string, unknown>;
  try {
    probe = kind === "cipher"
      ? ssh2Crypto.createCipher({
        outbound: {
          onWrite: () => {},
          cipherInfo: info,
          cipherKey: key,
          cipherIV: iv,
          seqno: 0,
          forceNative: true,
        },
      })
      : ssh2Crypto.createDecipher({
        inbound: {
          onPayload: () => {},
          decipherInfo: info,
          decipherKey: key,
          decipherIV: iv,
          seqno: 0,
          forceNative: true,
        },
      });
  } catch {
    return undefined;
  }
  const proto = Object.getPrototypeOf(probe);
  const methods = kind === "cipher" ? ["allocPacket", "encrypt", "free"] : ["decrypt", "free"];
  const shaped = proto?.constructor?.name === className &&
    methods.every((name) => typeof proto[name] === "function") &&
    fields.every((name) => Buffer.isBuffer(probe[name])) &&
    typeof probe[kind === "cipher" ? "_onWrite" : "_onPayload"] === "function" &&
    typeof probe[kind === "cipher" ? "outSeqno" : "inSeqno"] === "number";
  return shaped ? proto : undefined;
}
