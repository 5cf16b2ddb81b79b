/**
 * OpenSSH public keys: the wire blobs of RFC 4253 §6.6 (`ssh-rsa`), RFC 5656
 * §3.1 (`ecdsa-sha2-nistp*`) and RFC 8709 (`ssh-ed25519`), the one-line
 * authorized_keys form. Pure: the `node:crypto` side (fingerprints, key
 * objects) is in key_objects.ts, so that what only parses keys and
 * certificates (the CLI's requests) does not load node:crypto.
 *
 * @module
 */

import { CertError } from "./errors.ts";
import { decodeBase64, encodeBase64, SshReader, SshWriter } from "./wire.ts";

/** The ECDSA key types, one per NIST curve. */
export type EcdsaKeyType = "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521";

/** Every plain (non-certificate) public key type postern reads and writes. */
export type PublicKeyType = "ssh-ed25519" | EcdsaKeyType | "ssh-rsa";

/**
 * A parsed public key. Integers and points are big-endian bytes exactly as on
 * the wire, except that RSA `e` and `n` carry no leading zero bytes.
 */
export type PublicKey =
  | { readonly type: "ssh-ed25519"; readonly key: Uint8Array }
  | { readonly type: EcdsaKeyType; readonly point: Uint8Array }
  | { readonly type: "ssh-rsa"; readonly e: Uint8Array; readonly n: Uint8Array };

/** Per-curve facts: SSH curve name, JWK curve, coordinate size, signature hash. */
export const ECDSA_CURVES: Readonly<
  Record<EcdsaKeyType, { name: string; jwk: string; size: number; hash: string }>
> = {
  "ecdsa-sha2-nistp256": { name: "nistp256", jwk: "P-256", size: 32, hash: "sha256" },
  "ecdsa-sha2-nistp384": { name: "nistp384", jwk: "P-384", size: 48, hash: "sha384" },
  "ecdsa-sha2-nistp521": { name: "nistp521", jwk: "P-521", size: 66, hash: "sha512" },
};

/** OpenSSH's bounds on RSA modulus size, in bits. */
export const RSA_MIN_BITS = 1024;
const RSA_MAX_BITS = 16384;

/** True when `type` names a plain public key type postern supports. */
export function isPublicKeyType(type: string): type is PublicKeyType {
  return type === "ssh-ed25519" || type === "ssh-rsa" || Object.hasOwn(ECDSA_CURVES, type);
}

/**
 * Reads the fields that follow the type name of a key of type `type` (shared by
 * plain key blobs and certificates, which embed the same fields).
 */
export function readPublicKeyFields(type: PublicKeyType, reader: SshReader): PublicKey {
  if (type === "ssh-ed25519") {
    const key = reader.string();
    if (key.length !== 32) reader.fail(`ed25519 key is ${key.length} bytes, expected 32`);
    return { type, key };
  }
  if (type === "ssh-rsa") {
    const e = reader.mpint();
    const n = reader.mpint();
    const bits = bitLength(n);
    if (e.length === 0) reader.fail("RSA exponent is zero");
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
      throw new CertError(
        "unsupported",
        `Cannot use ${reader.what}: RSA key has ${bits} bits, ` +
          `OpenSSH accepts ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`,
      );
    }
    return { type, e, n };
  }
  const curve = ECDSA_CURVES[type];
  const name = reader.cstring();
  if (name !== curve.name) reader.fail(`curve ${JSON.stringify(name)} does not match ${type}`);
  const point = reader.string();
  if (point.length !== 1 + 2 * curve.size || point[0] !== 4) {
    reader.fail(`${type} point is not an uncompressed ${curve.name} point`);
  }
  return { type, point };
}

/** Writes the fields that follow the type name (see {@link readPublicKeyFields}). */
export function writePublicKeyFields(key: PublicKey, writer: SshWriter): void {
  switch (key.type) {
    case "ssh-ed25519":
      writer.string(key.key);
      return;
    case "ssh-rsa":
      writer.mpint(key.e).mpint(key.n);
      return;
    default:
      writer.string(ECDSA_CURVES[key.type].name).string(key.point);
  }
}

/**
 * Parses a public key blob (`string type, fields...`).
 *
 * @param blob the wire encoding, e.g. the second field of an authorized_keys line, decoded
 * @param what what the key is, for error messages
 * @returns the key; it keeps no reference to `blob`
 * @throws {CertError} `malformed` for bad encodings, `unsupported` for other key types
 *   (including certificates: use decodeCertificate for those)
 * @example
 * ```ts
 * const key = parsePublicKey(blob);
 * if (key.type === "ssh-ed25519") console.log(key.key.length); // 32
 * ```
 */
export function parsePublicKey(blob: Uint8Array, what = "public key"): PublicKey {
  const reader = new SshReader(new Uint8Array(blob), what);
  const type = reader.cstring();
  if (!isPublicKeyType(type)) {
    throw new CertError(
      "unsupported",
      `Cannot use ${what}: type ${JSON.stringify(type)} is not supported`,
    );
  }
  const key = readPublicKeyFields(type, reader);
  reader.end();
  return key;
}

/**
 * Encodes a public key as its wire blob.
 *
 * @example
 * ```ts
 * const blob = encodePublicKey({ type: "ssh-ed25519", key: new Uint8Array(32) });
 * ```
 */
export function encodePublicKey(key: PublicKey): Uint8Array {
  const writer = new SshWriter(key.type === "ssh-rsa" ? 64 + key.n.length : 160);
  writer.string(key.type);
  writePublicKeyFields(key, writer);
  return writer.bytes();
}

/** The three fields of an authorized_keys-style line, the blob not yet interpreted. */
export interface KeyLine {
  /** first field, e.g. `ssh-ed25519` or `ssh-ed25519-cert-v01@openssh.com` */
  readonly type: string;
  /** the decoded second field */
  readonly blob: Uint8Array;
  /** everything after the second field, trimmed; `""` when absent */
  readonly comment: string;
}

/**
 * Splits a `<type> <base64> [comment]` line (authorized_keys, `*.pub` files).
 * Option prefixes and markers (`command=...`, `@cert-authority`) are not handled.
 *
 * @throws {CertError} `malformed` when the line lacks two fields or the base64 is invalid
 */
export function parseKeyLine(line: string, what: string): KeyLine {
  const match = /^(\S+)[ \t]+(\S+)(?:[ \t]+([^]*))?$/.exec(line.trim());
  if (match === null) {
    throw new CertError("malformed", `Cannot parse ${what}: expected "<type> <base64> [comment]"`);
  }
  const blob = decodeBase64(match[2], what);
  return { type: match[1], blob, comment: (match[3] ?? "").trim() };
}

/** Formats `<type> <base64> [comment]`. */
export function formatKeyLine(type: string, blob: Uint8Array, comment = ""): string {
  const line = `${type} ${encodeBase64(blob)}`;
  return comment === "" ? line : `${line} ${comment}`;
}

/**
 * Parses an authorized_keys / `.pub` line holding a plain public key.
 *
 * @throws {CertError} `malformed` when the line's type and the blob's type differ
 * @example
 * ```ts
 * const { key, comment } = parsePublicKeyLine("ssh-ed25519 AAAAC3Nz... alice@laptop");
 * ```
 */
export function parsePublicKeyLine(line: string): { key: PublicKey; comment: string } {
  const { type, blob, comment } = parseKeyLine(line, "public key line");
  const key = parsePublicKey(blob);
  if (key.type !== type) {
    throw new CertError(
      "malformed",
      `Cannot parse public key line: it says ${JSON.stringify(type)} but holds ${key.type}`,
    );
  }
  return { key, comment };
}

/**
 * Formats a public key as an authorized_keys line.
 *
 * @example
 * ```ts
 * const line = formatPublicKeyLine(key, "alice@laptop"); // "ssh-ed25519 AAAA... alice@laptop"
 * ```
 */
export function formatPublicKeyLine(key: PublicKey, comment = ""): string {
  return formatKeyLine(key.type, encodePublicKey(key), comment);
}

/** Number of significant bits in a big-endian unsigned integer. */
export function bitLength(magnitude: Uint8Array): number {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  if (i === magnitude.length) return 0;
  return (magnitude.length - i - 1) * 8 + (32 - Math.clz32(magnitude[i]));
}

/** Left-pads big-endian bytes with zeros to `size` (returns the input when long enough). */
export function leftPad(bytes: Uint8Array, size: number): Uint8Array {
  if (bytes.length >= size) return bytes;
  const out = new Uint8Array(size);
  out.set(bytes, size - bytes.length);
  return out;
}
