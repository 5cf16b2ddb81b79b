/**
 * AES-GCM from the system's OpenSSL `libcrypto` through Deno FFI, for SSH
 * packets.
 *
 * Why: Deno's AES-GCM is slow next to OpenSSL's: on the 2-core benchmark
 * machine, 32 KiB packets seal at ~100–190 MB/s with `node:crypto` and ~230–480
 * MB/s with WebCrypto, but ~4 GB/s with libcrypto (AES-NI + PCLMUL), which is
 * what sshd itself uses. On the SSH gateway every byte to a user is sealed
 * once, so this is its largest cost.
 *
 * Safety: only the EVP AEAD API is used, on caller-owned buffers whose lengths
 * are checked here before each call; a context is freed once (explicitly, or
 * by a FinalizationRegistry when its owner is collected). The library is used
 * only when the process has the `ffi` permission already (no prompt),
 * `libcrypto.so.3` or `.so.1.1` loads, and a known-answer test against
 * `node:crypto` passes (sealing, opening, and refusing a forged tag).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createCipheriv } from "node:crypto";

const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;
const TAG_LENGTH = 16;
const IV_LENGTH = 12;

const SYMBOLS = {
  OpenSSL_version_num: { parameters: [], result: "u64" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_128_gcm: { parameters: [], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_CipherUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** One AES-GCM key, either direction, with its OpenSSL context. */
export class GcmContext {
  readonly #lib: Lib;
  #ctx: Deno.PointerValue;
  readonly #encrypt: 0 | 1;
  readonly #outLength = new Int32Array(1);
  readonly #scratch = new Uint8Array(TAG_LENGTH);

  /** Use {@link OpenSslGcm.context}. */
  constructor(lib: Lib, key: Uint8Array, encrypt: boolean) {
    if (key.length !== 16 && key.length !== 32) {
      throw new RangeError(`Cannot use a ${key.length}-byte AES-GCM key.`);
    }
    this.#lib = lib;
    this.#encrypt = encrypt ? 1 : 0;
    const ctx = lib.EVP_CIPHER_CTX_new();
    if (ctx === null) throw new Error("Cannot allocate an OpenSSL cipher context.");
    this.#ctx = ctx;
    const cipher = key.length === 16 ? lib.EVP_aes_128_gcm() : lib.EVP_aes_256_gcm();
    this.#check(lib.EVP_CipherInit_ex(ctx, cipher, null, key, null, this.#encrypt), "init");
    contexts.register(this, { lib, ctx }, this);
  }

  /**
   * Seals an SSH packet in place: `packet` is the 4-byte length (additional
   * data, left in clear), then the bytes to encrypt, then 16 bytes of room
   * for the tag.
   *
   * @param packet the packet with tag room; its encrypted part is overwritten
   * @param iv the 12-byte nonce of this packet
   */
  seal(packet: Uint8Array, iv: Uint8Array): void {
    if (!this.#encrypt || packet.length < 4 + TAG_LENGTH || iv.length !== IV_LENGTH) {
      throw new RangeError("Cannot seal: bad packet or nonce length.");
    }
    const lib = this.#lib;
    const ctx = this.#live();
    const out = new Uint8Array(this.#outLength.buffer);
    const body = packet.subarray(4, packet.length - TAG_LENGTH);
    const tag = packet.subarray(packet.length - TAG_LENGTH);
    this.#check(lib.EVP_CipherInit_ex(ctx, null, null, null, iv, -1), "nonce");
    this.#check(lib.EVP_CipherUpdate(ctx, null, out, packet.subarray(0, 4), 4), "aad");
    this.#check(lib.EVP_CipherUpdate(ctx, body, out, body, body.length), "encrypt");
    if (this.#outLength[0] !== body.length) throw new Error("OpenSSL sealed a short packet.");
    this.#check(lib.EVP_CipherFinal_ex(ctx, this.#scratch, out), "final");
    this.#check(lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LENGTH, tag), "tag");
  }

  /**
   * Starts opening a packet: sets the nonce and the additional data (the
   * 4-byte packet length).
   *
   * @param iv the 12-byte nonce of this packet
   * @param aad the packet length as sent
   */
  begin(iv: Uint8Array, aad: Uint8Array): void {
    if (this.#encrypt || iv.length !== IV_LENGTH || aad.length !== 4) {
      throw new RangeError("Cannot open: bad nonce or length field.");
    }
    const ctx = this.#live();
    const out = new Uint8Array(this.#outLength.buffer);
    this.#check(this.#lib.EVP_CipherInit_ex(ctx, null, null, null, iv, -1), "nonce");
    this.#check(this.#lib.EVP_CipherUpdate(ctx, null, out, aad, 4), "aad");
  }

  /**
   * Decrypts the next part of the packet being opened into `into` (same length).
   * The bytes are not authenticated until {@link finish} returns true.
   *
   * @param from ciphertext
   * @param into where the plaintext goes; exactly `from.length` bytes
   */
  update(from: Uint8Array, into: Uint8Array): void {
    if (into.length !== from.length) throw new RangeError("Cannot open: output length differs.");
    if (from.length === 0) return;
    const out = new Uint8Array(this.#outLength.buffer);
    this.#check(this.#lib.EVP_CipherUpdate(this.#live(), into, out, from, from.length), "decrypt");
    if (this.#outLength[0] !== from.length) throw new Error("OpenSSL opened a short packet.");
  }

  /**
   * Checks the packet's tag.
   *
   * @param tag the 16-byte tag that followed the packet
   * @returns true when the packet is authentic
   */
  finish(tag: Uint8Array): boolean {
    if (tag.length !== TAG_LENGTH) throw new RangeError("Cannot open: bad tag length.");
    const ctx = this.#live();
    const out = new Uint8Array(this.#outLength.buffer);
    // SET_TAG copies the expected tag into the context; the final call compares.
    this.#check(this.#lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LENGTH, tag), "tag");
    return this.#lib.EVP_CipherFinal_ex(ctx, this.#scratch, out) === 1;
  }

  /** Frees the OpenSSL context; later calls throw. */
  free(): void {
    if (this.#ctx === null) return;
    contexts.unregister(this);
    this.#lib.EVP_CIPHER_CTX_free(this.#ctx);
    this.#ctx = null;
  }

  #live(): NonNullable<Deno.PointerValue> {
    if (this.#ctx === null) throw new Error("Cannot use a freed OpenSSL cipher context.");
    return this.#ctx;
  }

  #check(result: number, step: string): void {
    if (result !== 1) throw new Error(`OpenSSL AES-GCM ${step} failed.`);
  }
}

const contexts = new FinalizationRegistry<{ lib: Lib; ctx: Deno.PointerValue }>(
  ({ lib, ctx }) => lib.EVP_CIPHER_CTX_free(ctx),
);

/** The loaded library. */
export interface OpenSslGcm {
  /** `OpenSSL_version_num()`, e.g. 0x30000100. */
  version: number;
  /**
   * A context for one key and direction.
   *
   * @param key 16 or 32 bytes
   * @param encrypt true to seal, false to open
   */
  context(key: Uint8Array, encrypt: boolean): GcmContext;
}

let loaded: OpenSslGcm | null | undefined;

/**
 * Loads libcrypto once. Null without the `ffi` permission, when no libcrypto
 * loads, or when it fails the known-answer test.
 *
 * @returns the library, or null
 * @example
 * ```ts
 * const gcm = openSslGcm();
 * if (gcm) gcm.context(key, true).seal(packet, iv);
 * ```
 */
export function openSslGcm(): OpenSslGcm | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  } catch {
    return null;
  }
  for (const name of libraryNames()) {
    let library: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      library = Deno.dlopen(name, SYMBOLS);
    } catch {
      continue;
    }
    const lib = library.symbols;
    const version = Number(lib.OpenSSL_version_num());
    const candidate: OpenSslGcm = {
      version,
      context: (key, encrypt) => new GcmContext(lib, key, encrypt),
    };
    if (version >= 0x10100000 && passesKnownAnswer(candidate)) return (loaded = candidate);
    library.close();
  }
  return null;
}

function libraryNames(): string[] {
  switch (Deno.build.os) {
    case "linux":
      return ["libcrypto.so.3", "libcrypto.so.1.1"];
    case "darwin":
      return ["libcrypto.3.dylib"];
    default:
      return [];
  }
}

/** Seals and opens one packet per key size, and compares with node:crypto. */
function passesKnownAnswer(gcm: OpenSslGcm): boolean {
  try {
    for (const keyLength of [16, 32]) {
      const key = crypto.getRandomValues(new Uint8Array(keyLength));
      const iv = crypto.getRandomValues(new Uint8Array(IV_LENGTH));
      const plain = crypto.getRandomValues(new Uint8Array(100));
      const packet = new Uint8Array(4 + plain.length + TAG_LENGTH);
      new DataView(packet.buffer).setUint32(0, plain.length);
      packet.set(plain, 4);
      const sealer = gcm.context(key, true);
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

      const opener = gcm.context(key, false);
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
