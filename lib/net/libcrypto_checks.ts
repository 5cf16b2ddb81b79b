/**
 * Known-answer tests libcrypto.ts runs before it uses the system libcrypto:
 * a library that computes anything else is not used.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createCipheriv } from "node:crypto";
import { IV_LENGTH, type Lib, type Libcrypto, TAG_LENGTH } from "./libcrypto.ts";

/**
 * Seals and opens one packet per key size, compares with node:crypto, and
 * expects a forged tag to be refused.
 *
 * @param libcrypto the candidate library
 * @returns true when every answer is right
 */
export function gcmPassesKnownAnswer(libcrypto: Libcrypto): boolean {
  try {
    for (const keyLength of [16, 32]) {
      const key = crypto.getRandomValues(new Uint8Array(keyLength));
      const iv = crypto.getRandomValues(new Uint8Array(IV_LENGTH));
      const plain = crypto.getRandomValues(new Uint8Array(100));
      const packet = new Uint8Array(4 + plain.length + TAG_LENGTH);
      new DataView(packet.buffer).setUint32(0, plain.length);
      packet.set(plain, 4);
      const sealer = libcrypto.gcm(key, true);
      sealer.seal(packet, iv);
      sealer.free();

      const reference = createCipheriv(keyLength === 16 ? "aes-128-gcm" : "aes-256-gcm", key, iv);
      reference.setAAD(packet.subarray(0, 4));
      const expected = Buffer.concat([
        packet.subarray(0, 4),
        reference.update(plain),
        reference.final(),
        reference.getAuthTag(),
      ]);
      if (!expected.equals(packet)) return false;

      const opener = libcrypto.gcm(key, false);
      const opened = new Uint8Array(plain.length);
      opener.begin(iv, packet.subarray(0, 4));
      opener.update(packet.subarray(4, 4 + plain.length), opened);
      const authentic = opener.finish(packet.subarray(4 + plain.length));
      opener.begin(iv, packet.subarray(0, 4));
      opener.update(packet.subarray(4, 4 + plain.length), new Uint8Array(plain.length));
      const tampered = packet.slice(4 + plain.length);
      tampered[0] ^= 1;
      const forged = opener.finish(tampered);
      opener.free();
      if (!authentic || forged || !Buffer.from(opened).equals(Buffer.from(plain))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * ChaCha20 against node:crypto (the keystream for a seqno and counter),
 * Poly1305 against RFC 8439 section 2.5.2, a sealed packet opened again, and
 * a forged one refused.
 *
 * @param libcrypto the candidate library, with `chachaPoly`
 * @returns true when every answer is right
 */
export function chachaPassesKnownAnswer(libcrypto: Libcrypto): boolean {
  try {
    const key = crypto.getRandomValues(new Uint8Array(64));
    const sealer = libcrypto.chachaPoly!(key);
    const opener = libcrypto.chachaPoly!(key);
    const plain = crypto.getRandomValues(new Uint8Array(64));
    const packet = new Uint8Array(4 + plain.length + TAG_LENGTH);
    new DataView(packet.buffer).setUint32(0, plain.length);
    packet.set(plain, 4);
    sealer.seal(packet, 7);
    const iv = new Uint8Array(16);
    iv[0] = 1;
    iv[15] = 7;
    const stream = createCipheriv("chacha20", key.subarray(0, 32), iv).update(plain);
    if (!Buffer.from(stream).equals(Buffer.from(packet.subarray(4, 4 + plain.length)))) {
      return false;
    }
    if (opener.length(packet.subarray(0, 4), 7) !== plain.length) return false;
    const body = packet.slice(4, 4 + plain.length);
    const tag = packet.subarray(4 + plain.length);
    const forged = tag.slice();
    forged[15] ^= 0x80;
    if (opener.open(packet.subarray(0, 4), body.slice(), forged, 7)) return false;
    if (!opener.open(packet.subarray(0, 4), body, tag, 7)) return false;
    if (!Buffer.from(body).equals(Buffer.from(plain))) return false;
    sealer.free();
    opener.free();
    return true;
  } catch {
    return false;
  }
}

/**
 * RFC 8439, 2.5.2: Poly1305 of "Cryptographic Forum Research Group".
 *
 * @param lib the bound functions
 * @param poly1305 the fetched POLY1305 EVP_MAC
 * @returns true when the tag matches the RFC's
 */
export function poly1305PassesRfc8439(lib: Lib, poly1305: NonNullable<Deno.PointerValue>): boolean {
  const hex = (text: string) => Uint8Array.from(text.match(/../g)!, (b) => parseInt(b, 16));
  const polyKey = hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
  const expected = hex("a8061dc1305136c6c22b8baf0c0127a9");
  const message = new TextEncoder().encode("Cryptographic Forum Research Group");
  const ctx = lib.EVP_MAC_CTX_new!(poly1305);
  if (ctx === null) return false;
  try {
    const tag = new Uint8Array(TAG_LENGTH);
    const length = new Uint8Array(8);
    const ok = lib.EVP_MAC_init!(ctx, polyKey, 32n, null) === 1 &&
      lib.EVP_MAC_update!(ctx, message, BigInt(message.length)) === 1 &&
      lib.EVP_MAC_final!(ctx, tag, length, BigInt(TAG_LENGTH)) === 1;
    return ok && tag.every((byte, i) => byte === expected[i]);
  } finally {
    lib.EVP_MAC_CTX_free!(ctx);
  }
}
