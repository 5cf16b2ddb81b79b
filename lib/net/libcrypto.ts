/**
 * SSH packet ciphers from the system's OpenSSL `libcrypto` through Deno FFI:
 * AES-GCM (RFC 5647, `aes*-gcm@openssh.com`) and OpenSSH's
 * `chacha20-poly1305@openssh.com` (PROTOCOL.chacha20poly1305).
 *
 * Why: Deno's own ciphers are slow next to OpenSSL's. On the 2-core benchmark
 * machine, 32 KiB packets seal with AES-GCM at ~100–190 MB/s in `node:crypto`
 * and ~230–480 MB/s in WebCrypto, but ~4 GB/s in libcrypto (AES-NI + PCLMUL),
 * which is what sshd itself uses; ssh2's chacha20-poly1305 runs three
 * `node:crypto` ciphers and a WebAssembly Poly1305 per packet. On the SSH
 * gateway every byte to a user is sealed once, so this was its largest cost.
 *
 * Safety: only EVP cipher and MAC calls are used, on caller-owned buffers whose
 * lengths are checked here before each call; a context is freed once
 * (explicitly, or by a FinalizationRegistry when its owner is collected). The
 * library is used only when the process has the `ffi` permission already (no
 * prompt), `libcrypto.so.3` or `.so.1.1` loads, and known-answer tests pass:
 * AES-GCM against `node:crypto` (sealing, opening, refusing a forged tag),
 * ChaCha20 against `node:crypto` and Poly1305 against RFC 8439's vector.
 * ChaCha20-Poly1305 needs OpenSSL 3 (EVP_MAC).
 *
 * @module
 */

import {
  chachaPassesKnownAnswer,
  gcmPassesKnownAnswer,
  poly1305PassesRfc8439,
} from "./libcrypto_checks.ts";

const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;
/** Bytes of an AEAD tag. */
export const TAG_LENGTH = 16;
/** Bytes of an AES-GCM nonce. */
export const IV_LENGTH = 12;

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
  CRYPTO_memcmp: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  EVP_chacha20: { parameters: [], result: "pointer", optional: true },
  EVP_MAC_fetch: {
    parameters: ["pointer", "buffer", "pointer"],
    result: "pointer",
    optional: true,
  },
  EVP_MAC_free: { parameters: ["pointer"], result: "void", optional: true },
  EVP_MAC_CTX_new: { parameters: ["pointer"], result: "pointer", optional: true },
  EVP_MAC_CTX_free: { parameters: ["pointer"], result: "void", optional: true },
  EVP_MAC_init: {
    parameters: ["pointer", "buffer", "usize", "pointer"],
    result: "i32",
    optional: true,
  },
  EVP_MAC_update: { parameters: ["pointer", "buffer", "usize"], result: "i32", optional: true },
  EVP_MAC_final: {
    parameters: ["pointer", "buffer", "buffer", "usize"],
    result: "i32",
    optional: true,
  },
} as const;

/** The bound libcrypto functions. */
export type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** One AES-GCM key, either direction, with its OpenSSL context. */
export class GcmContext {
  readonly #lib: Lib;
  #ctx: Deno.PointerValue;
  readonly #encrypt: 0 | 1;
  readonly #outLength = new Int32Array(1);
  readonly #scratch = new Uint8Array(TAG_LENGTH);

  /** Use {@link Libcrypto.gcm}. */
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
    contexts.register(this, () => lib.EVP_CIPHER_CTX_free(ctx), this);
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

/** Frees what a collected context still holds. */
const contexts = new FinalizationRegistry<() => void>((free) => free());

/**
 * OpenSSH's chacha20-poly1305@openssh.com for one direction: K_2 (the first
 * 32 key bytes) encrypts the payload from block counter 1 and, from counter
 * 0, gives the Poly1305 key; K_1 (the last 32) encrypts the 4-byte length.
 * The nonce is the packet sequence number, 64-bit big-endian.
 */
export class ChaChaPolyContext {
  readonly #lib: Lib;
  #main: Deno.PointerValue;
  #header: Deno.PointerValue;
  #mac: Deno.PointerValue;
  readonly #iv = new Uint8Array(16);
  readonly #polyKey = new Uint8Array(32);
  readonly #zeros = new Uint8Array(32);
  readonly #tag = new Uint8Array(TAG_LENGTH);
  readonly #outLength = new Int32Array(1);
  readonly #macLength = new BigUint64Array(1);

  /** Use {@link Libcrypto.chachaPoly}. */
  constructor(lib: Lib, macAlgorithm: NonNullable<Deno.PointerValue>, key: Uint8Array) {
    if (key.length !== 64) {
      throw new RangeError(`Cannot use a ${key.length}-byte chacha20-poly1305 key.`);
    }
    this.#lib = lib;
    const chacha = lib.EVP_chacha20!();
    const main = lib.EVP_CIPHER_CTX_new();
    const header = lib.EVP_CIPHER_CTX_new();
    const mac = lib.EVP_MAC_CTX_new!(macAlgorithm);
    const free = () => {
      if (main) lib.EVP_CIPHER_CTX_free(main);
      if (header) lib.EVP_CIPHER_CTX_free(header);
      if (mac) lib.EVP_MAC_CTX_free!(mac);
    };
    if (main === null || header === null || mac === null) {
      free();
      throw new Error("Cannot allocate OpenSSL chacha20-poly1305 contexts.");
    }
    this.#main = main;
    this.#header = header;
    this.#mac = mac;
    contexts.register(this, free, this);
    // Both directions of ChaCha20 are the same XOR: always "encrypt".
    this.#check(lib.EVP_CipherInit_ex(main, chacha, null, key.subarray(0, 32), null, 1), "init");
    this.#check(lib.EVP_CipherInit_ex(header, chacha, null, key.subarray(32), null, 1), "init");
  }

  /**
   * Seals an SSH packet in place: the 4-byte length and the rest are
   * encrypted, and the tag over both goes into the last 16 bytes.
   *
   * @param packet length, padding length, payload, padding, 16 bytes of tag room
   * @param seqno the packet's sequence number
   */
  seal(packet: Uint8Array, seqno: number): void {
    if (packet.length < 4 + TAG_LENGTH) throw new RangeError("Cannot seal: bad packet length.");
    const sealed = packet.subarray(0, packet.length - TAG_LENGTH);
    this.#xor(this.#header, seqno, 0, packet.subarray(0, 4), packet.subarray(0, 4));
    const body = sealed.subarray(4);
    this.#xor(this.#main, seqno, 1, body, body);
    this.#authenticate(seqno, sealed, packet.subarray(sealed.length));
  }

  /**
   * Decrypts a packet's length field (needed to know how much to read; it is
   * authenticated later with the rest).
   *
   * @param sealed the 4 bytes as received
   * @param seqno the packet's sequence number
   * @returns the packet length
   */
  length(sealed: Uint8Array, seqno: number): number {
    if (sealed.length !== 4) throw new RangeError("Cannot open: bad length field.");
    const plain = new Uint8Array(4);
    this.#xor(this.#header, seqno, 0, sealed, plain);
    return new DataView(plain.buffer).getUint32(0);
  }

  /**
   * Checks a packet's tag and, only if it is authentic, decrypts the packet
   * body in place.
   *
   * @param sealedLength the 4-byte length field as received
   * @param body the rest of the packet as received; decrypted in place
   * @param tag the 16 bytes that followed
   * @param seqno the packet's sequence number
   * @returns false (and `body` untouched) when the tag is wrong
   */
  open(sealedLength: Uint8Array, body: Uint8Array, tag: Uint8Array, seqno: number): boolean {
    if (sealedLength.length !== 4 || tag.length !== TAG_LENGTH) {
      throw new RangeError("Cannot open: bad length field or tag.");
    }
    this.#authenticate(seqno, sealedLength, this.#tag, body);
    if (this.#lib.CRYPTO_memcmp(this.#tag, tag, BigInt(TAG_LENGTH)) !== 0) return false;
    this.#xor(this.#main, seqno, 1, body, body);
    return true;
  }

  /** Frees the OpenSSL contexts; later calls throw. */
  free(): void {
    if (this.#main === null) return;
    contexts.unregister(this);
    this.#lib.EVP_CIPHER_CTX_free(this.#main);
    this.#lib.EVP_CIPHER_CTX_free(this.#header);
    this.#lib.EVP_MAC_CTX_free!(this.#mac);
    this.#main = this.#header = this.#mac = null;
  }

  /** ChaCha20 keystream XOR from block `counter` with nonce `seqno`. */
  #xor(ctx: Deno.PointerValue, seqno: number, counter: number, from: Uint8Array, into: Uint8Array) {
    if (this.#main === null) throw new Error("Cannot use freed OpenSSL contexts.");
    if (from.length === 0) return;
    // OpenSSL's 16-byte ChaCha20 IV: 32-bit little-endian counter, then the
    // nonce; OpenSSH's 64-bit counter is 0 or 1 here and its nonce the seqno.
    const iv = this.#iv;
    iv.fill(0);
    iv[0] = counter;
    new DataView(iv.buffer).setUint32(12, seqno);
    const out = new Uint8Array(this.#outLength.buffer);
    this.#check(this.#lib.EVP_CipherInit_ex(ctx, null, null, null, iv, -1), "nonce");
    this.#check(this.#lib.EVP_CipherUpdate(ctx, into, out, from, from.length), "xor");
    if (this.#outLength[0] !== from.length) throw new Error("OpenSSL ChaCha20 came short.");
  }

  /** Poly1305 over `parts` with the key from block 0 of K_2, into `tag`. */
  #authenticate(seqno: number, first: Uint8Array, tag: Uint8Array, second?: Uint8Array): void {
    const lib = this.#lib;
    this.#xor(this.#main, seqno, 0, this.#zeros, this.#polyKey);
    this.#check(lib.EVP_MAC_init!(this.#mac, this.#polyKey, 32n, null), "mac init");
    this.#check(lib.EVP_MAC_update!(this.#mac, first, BigInt(first.length)), "mac");
    if (second?.length) {
      this.#check(lib.EVP_MAC_update!(this.#mac, second, BigInt(second.length)), "mac");
    }
    const length = new Uint8Array(this.#macLength.buffer);
    this.#check(lib.EVP_MAC_final!(this.#mac, tag, length, BigInt(TAG_LENGTH)), "mac final");
    this.#polyKey.fill(0);
  }

  #check(result: number, step: string): void {
    if (result !== 1) throw new Error(`OpenSSL chacha20-poly1305 ${step} failed.`);
  }
}

/** The loaded library. */
export interface Libcrypto {
  /** `OpenSSL_version_num()`, e.g. 0x30000100. */
  version: number;
  /**
   * An AES-GCM context for one key and direction.
   *
   * @param key 16 or 32 bytes
   * @param encrypt true to seal, false to open
   */
  gcm(key: Uint8Array, encrypt: boolean): GcmContext;
  /**
   * A chacha20-poly1305@openssh.com context for one direction; undefined
   * before OpenSSL 3.
   *
   * @param key 64 bytes
   */
  chachaPoly?: (key: Uint8Array) => ChaChaPolyContext;
}

let loaded: Libcrypto | null | undefined;

/**
 * Loads libcrypto once. Null without the `ffi` permission, when no libcrypto
 * loads, or when it fails the AES-GCM known-answer test; `chachaPoly` is left
 * out when its own test fails or OpenSSL is older than 3.
 *
 * @returns the library, or null
 * @example
 * ```ts
 * const libcrypto = loadLibcrypto();
 * if (libcrypto) libcrypto.gcm(key, true).seal(packet, iv);
 * ```
 */
export function loadLibcrypto(): Libcrypto | null {
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
    const candidate: Libcrypto = {
      version,
      gcm: (key, encrypt) => new GcmContext(lib, key, encrypt),
    };
    if (version < 0x10100000 || !gcmPassesKnownAnswer(candidate)) {
      library.close();
      continue;
    }
    const poly1305 = version >= 0x30000000 && lib.EVP_chacha20 && lib.EVP_MAC_fetch
      ? lib.EVP_MAC_fetch(null, new TextEncoder().encode("POLY1305\0"), null)
      : null;
    if (poly1305 !== null) {
      candidate.chachaPoly = (key) => new ChaChaPolyContext(lib, poly1305, key);
      if (!chachaPassesKnownAnswer(candidate) || !poly1305PassesRfc8439(lib, poly1305)) {
        delete candidate.chachaPoly;
      }
    }
    return (loaded = candidate);
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
