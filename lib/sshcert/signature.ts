/**
 * SSH signature blobs (`string algorithm, string signature`): ed25519 (RFC 8709),
 * ECDSA with mpint r and s (RFC 5656 §3.1.2), RSA with SHA-2 (RFC 8332) and,
 * only on request, SHA-1 `ssh-rsa`.
 *
 * @module
 */

import { type KeyObject, sign, verify } from "node:crypto";
import { ECDSA_CURVES, type EcdsaKeyType, leftPad, type PublicKey } from "./keys.ts";
import { publicKeyFromKeyObject, publicKeyToKeyObject } from "./key_objects.ts";
import { SshReader, SshWriter } from "./wire.ts";
import { encodeSignature, type ParsedSignature, parseSignature } from "./signature_blob.ts";

export { encodeSignature, type ParsedSignature, parseSignature };

/** Signature algorithm names that may appear in a signature blob. */
export type SignatureAlgorithm =
  | "ssh-ed25519"
  | EcdsaKeyType
  | "rsa-sha2-256"
  | "rsa-sha2-512"
  | "ssh-rsa";

const RSA_HASHES: Readonly<Record<string, string>> = {
  "rsa-sha2-256": "sha256",
  "rsa-sha2-512": "sha512",
  "ssh-rsa": "sha1",
};

/** Options for {@link signData}. */
export interface SignOptions {
  /**
   * Signature algorithm for RSA keys; ignored for other key types.
   * @default "rsa-sha2-512"
   */
  readonly rsaAlgorithm?: "rsa-sha2-256" | "rsa-sha2-512";
}

const publicKeys = new WeakMap<KeyObject, PublicKey>();

/**
 * The SSH public key of a private `node:crypto` key, computed once per KeyObject.
 *
 * @throws {CertError} `unsupported` for key kinds other than ed25519, EC P-256/384/521, RSA
 */
export function publicKeyOf(privateKey: KeyObject): PublicKey {
  let key = publicKeys.get(privateKey);
  if (key === undefined) {
    key = publicKeyFromKeyObject(privateKey);
    publicKeys.set(privateKey, key);
  }
  return key;
}

/**
 * Signs `data` and returns an SSH signature blob.
 *
 * @param privateKey an ed25519 (postern's CA and user keys), EC or RSA private key
 * @param data the bytes to sign
 * @returns `string algorithm, string signature`, as OpenSSH expects in certificates and userauth
 * @example
 * ```ts
 * const { privateKey } = generateKeyPairSync("ed25519");
 * const blob = signData(privateKey, new TextEncoder().encode("hello"));
 * parseSignature(blob).algorithm; // "ssh-ed25519"
 * ```
 */
export function signData(
  privateKey: KeyObject,
  data: Uint8Array,
  options: SignOptions = {},
): Uint8Array {
  const key = publicKeyOf(privateKey);
  switch (key.type) {
    case "ssh-ed25519":
      return encodeSignature(key.type, sign(null, data, privateKey));
    case "ssh-rsa": {
      const algorithm = options.rsaAlgorithm ?? "rsa-sha2-512";
      return encodeSignature(algorithm, sign(RSA_HASHES[algorithm], data, privateKey));
    }
    default: {
      const { hash, size } = ECDSA_CURVES[key.type];
      const rs = sign(hash, data, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const inner = new SshWriter(2 * size + 16)
        .mpint(rs.subarray(0, size))
        .mpint(rs.subarray(size))
        .bytes();
      return encodeSignature(key.type, inner);
    }
  }
}

/** Options for {@link verifySignature}. */
export interface VerifySignatureOptions {
  /**
   * The algorithm the signature must use, e.g. the userauth request's algorithm.
   * Certificate names are mapped to their signature algorithm
   * (`rsa-sha2-256-cert-v01@openssh.com` → `rsa-sha2-256`).
   * @default any algorithm that fits the key
   */
  readonly algorithm?: string;
  /**
   * Accept `ssh-rsa` (RSA with SHA-1), which OpenSSH disables by default.
   * @default false
   */
  readonly allowSha1?: boolean;
}

/**
 * Checks an SSH signature blob made by `key` over `data`.
 *
 * @returns true only for a valid signature whose algorithm fits the key and the
 *   options; false for anything else, including malformed blobs
 * @example
 * ```ts
 * verifySignature(key, data, signatureBlob, { algorithm: "rsa-sha2-256" });
 * ```
 */
export function verifySignature(
  key: PublicKey,
  data: Uint8Array,
  signature: Uint8Array,
  options: VerifySignatureOptions = {},
): boolean {
  let parsed: ParsedSignature;
  let keyObject: KeyObject;
  try {
    parsed = parseSignature(signature);
    keyObject = publicKeyToKeyObject(key);
  } catch {
    return false;
  }
  if (options.algorithm !== undefined) {
    if (parsed.algorithm !== signatureAlgorithmFor(options.algorithm)) return false;
  }
  if (parsed.algorithm === "ssh-rsa" && options.allowSha1 !== true) return false;
  return verifyParsedSignature(key, keyObject, data, parsed);
}

/**
 * The algorithm a signature blob carries for a userauth / certificate algorithm
 * name: the name itself for plain keys, the underlying one for certificates.
 */
export function signatureAlgorithmFor(algorithm: string): string {
  const suffix = "-cert-v01@openssh.com";
  return algorithm.endsWith(suffix) ? algorithm.slice(0, -suffix.length) : algorithm;
}

/**
 * Verifies an already split signature with a prepared KeyObject for `key` (lets
 * callers cache KeyObjects). Accepts `ssh-rsa` (SHA-1): callers decide whether to.
 */
export function verifyParsedSignature(
  key: PublicKey,
  keyObject: KeyObject,
  data: Uint8Array,
  signature: ParsedSignature,
): boolean {
  const { algorithm, bytes } = signature;
  try {
    switch (key.type) {
      case "ssh-ed25519":
        return algorithm === key.type && bytes.length === 64 &&
          verify(null, data, keyObject, bytes);
      case "ssh-rsa": {
        const hash = RSA_HASHES[algorithm];
        // OpenSSH accepts signatures shorter than the modulus and left-pads them.
        if (hash === undefined || bytes.length > key.n.length) return false;
        return verify(hash, data, keyObject, leftPad(bytes, key.n.length));
      }
      default: {
        if (algorithm !== key.type) return false;
        const { hash, size } = ECDSA_CURVES[key.type];
        const rs = ecdsaSignatureToP1363(bytes, size);
        return rs !== null && verify(hash, data, { key: keyObject, dsaEncoding: "ieee-p1363" }, rs);
      }
    }
  } catch {
    return false;
  }
}

/**
 * Converts `mpint r, mpint s` to the fixed-width r||s node:crypto verifies;
 * null when r or s is zero or too large. Throws CertError when malformed.
 */
function ecdsaSignatureToP1363(bytes: Uint8Array, size: number): Uint8Array | null {
  const reader = new SshReader(bytes, "ECDSA signature");
  const r = reader.mpint();
  const s = reader.mpint();
  reader.end();
  if (r.length > size || s.length > size || r.length === 0 || s.length === 0) return null;
  const out = new Uint8Array(2 * size);
  out.set(r, size - r.length);
  out.set(s, 2 * size - s.length);
  return out;
}
