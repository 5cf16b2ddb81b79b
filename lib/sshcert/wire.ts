/**
 * SSH wire encoding (RFC 4251 §5): a reader that throws {@link CertError} on any
 * malformed input and a writer that grows one buffer instead of concatenating
 * many small arrays.
 *
 * @module
 */

import { CertError } from "./errors.ts";

const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Reads SSH wire values from a byte array without copying: strings come back as
 * views into the input.
 *
 * @example
 * ```ts
 * const reader = new SshReader(blob, "public key");
 * const type = reader.cstring();
 * const key = reader.string();
 * reader.end();
 * ```
 */
export class SshReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #pos = 0;

  /**
   * @param bytes the encoded data; not copied, so do not change it while reading
   * @param what what is being parsed, for error messages ("certificate")
   */
  constructor(bytes: Uint8Array, readonly what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Offset of the next unread byte. */
  get position(): number {
    return this.#pos;
  }

  /** Number of bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#pos;
  }

  /** Throws a `malformed` {@link CertError} naming what is parsed. */
  fail(problem: string): never {
    throw new CertError("malformed", `Cannot parse ${this.what}: ${problem}`);
  }

  #need(n: number): void {
    if (n > this.#bytes.length - this.#pos) {
      this.fail(`truncated at byte ${this.#pos} (need ${n} more, have ${this.remaining})`);
    }
  }

  /** Reads one byte. */
  u8(): number {
    this.#need(1);
    return this.#bytes[this.#pos++];
  }

  /** Reads a big-endian uint32. */
  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return value;
  }

  /** Reads a big-endian uint64. */
  u64(): bigint {
    this.#need(8);
    const value = this.#view.getBigUint64(this.#pos);
    this.#pos += 8;
    return value;
  }

  /** Reads `n` raw bytes (a view, not a copy). */
  raw(n: number): Uint8Array {
    this.#need(n);
    const out = this.#bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** Reads a length-prefixed byte string (a view, not a copy). */
  string(): Uint8Array {
    return this.raw(this.u32());
  }

  /** Reads a length-prefixed UTF-8 string; like OpenSSH, refuses embedded NUL bytes. */
  cstring(): string {
    const bytes = this.string();
    if (bytes.includes(0)) this.fail("a text field contains a NUL byte");
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      return this.fail("a text field is not valid UTF-8");
    }
  }

  /**
   * Reads a non-negative mpint and returns its magnitude, big-endian, without
   * leading zero bytes (OpenSSH trims them too). Negative values are refused.
   */
  mpint(): Uint8Array {
    const bytes = this.string();
    if (bytes.length > 0 && (bytes[0] & 0x80) !== 0) this.fail("negative integer");
    let start = 0;
    while (start < bytes.length && bytes[start] === 0) start++;
    return bytes.subarray(start);
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}

/**
 * Builds SSH wire data in one growing buffer.
 *
 * @example
 * ```ts
 * const w = new SshWriter();
 * w.string("ssh-ed25519");
 * w.string(key);
 * const blob = w.bytes();
 * ```
 */
export class SshWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  /** @param capacity initial buffer size in bytes; it doubles when full */
  constructor(capacity = 256) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Number of bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    const needed = this.#len + n;
    if (needed <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }

  /** Writes one byte. */
  u8(value: number): this {
    this.#reserve(1);
    this.#buf[this.#len++] = value;
    return this;
  }

  /** Writes a big-endian uint32. */
  u32(value: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#len, value);
    this.#len += 4;
    return this;
  }

  /** Writes a big-endian uint64; throws a `malformed` CertError outside 0..2^64-1. */
  u64(value: bigint): this {
    if (value < 0n || value > MAX_U64) {
      throw new CertError("malformed", `Cannot encode ${value} as uint64: out of range`);
    }
    this.#reserve(8);
    this.#view.setBigUint64(this.#len, value);
    this.#len += 8;
    return this;
  }

  /** Writes bytes as they are, without a length. */
  raw(bytes: Uint8Array): this {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
    return this;
  }

  /** Writes a length-prefixed string; text is encoded as UTF-8. */
  string(value: Uint8Array | string): this {
    if (typeof value !== "string") return this.u32(value.length).raw(value);
    // Encode straight into the buffer: UTF-8 needs at most 3 bytes per UTF-16 unit.
    this.#reserve(4 + value.length * 3);
    const { written } = utf8Encoder.encodeInto(value, this.#buf.subarray(this.#len + 4));
    this.#view.setUint32(this.#len, written);
    this.#len += 4 + written;
    return this;
  }

  /** Writes a non-negative integer given as big-endian magnitude bytes as an mpint. */
  mpint(magnitude: Uint8Array): this {
    let start = 0;
    while (start < magnitude.length && magnitude[start] === 0) start++;
    const digits = magnitude.subarray(start);
    const pad = digits.length > 0 && (digits[0] & 0x80) !== 0 ? 1 : 0;
    this.u32(digits.length + pad);
    if (pad) this.u8(0);
    return this.raw(digits);
  }

  /** Writes a string whose content is whatever `fill` writes (lengths patched after). */
  nested(fill: (writer: this) => void): this {
    this.#reserve(4);
    const at = this.#len;
    this.#len += 4;
    fill(this);
    this.#view.setUint32(at, this.#len - at - 4);
    return this;
  }

  /** The bytes written so far: a view of the internal buffer, valid until the next write. */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

/** Encodes bytes as standard padded base64 (the form used in key files). */
export function encodeBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/**
 * Decodes strict standard base64 (whitespace allowed); throws a `malformed`
 * CertError naming `what` otherwise.
 */
export function decodeBase64(text: string, what: string): Uint8Array {
  try {
    return Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch {
    throw new CertError("malformed", `Cannot parse ${what}: invalid base64`);
  }
}

/** Compares bytes for equality (not constant-time: use only on public data). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
