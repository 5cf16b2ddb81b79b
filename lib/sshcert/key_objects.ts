/**
 * The `node:crypto` side of OpenSSH public keys: SHA256 fingerprints as
 * `ssh-keygen -l` prints them, and conversions between `PublicKey` and
 * `node:crypto` key objects.
 *
 * @module
 */

import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { CertError } from "./errors.ts";
import {
  ECDSA_CURVES,
  type EcdsaKeyType,
  encodePublicKey,
  leftPad,
  type PublicKey,
} from "./keys.ts";

/**
 * The SHA256 fingerprint exactly as `ssh-keygen -l` prints it.
 *
 * @param key a key, or its wire blob
 * @returns `SHA256:` followed by unpadded base64
 * @example
 * ```ts
 * fingerprint(key); // "SHA256:d6hRIh/fKNGWgeYCyAyJn9G6unTCvGE9JXCsbmALh0w"
 * ```
 */
export function fingerprint(key: PublicKey | Uint8Array): string {
  const blob = key instanceof Uint8Array ? key : encodePublicKey(key);
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/**
 * The SSH public key of a `node:crypto` key (public or private; ed25519, EC
 * P-256/384/521 or RSA).
 *
 * @throws {CertError} `unsupported` for other key kinds
 */
export function publicKeyFromKeyObject(keyObject: KeyObject): PublicKey {
  let jwk: JsonWebKey;
  try {
    jwk = (keyObject.type === "private" ? createPublicKey(keyObject) : keyObject)
      .export({ format: "jwk" });
  } catch (cause) {
    const kind = keyObject.asymmetricKeyType ?? keyObject.type;
    throw new CertError("unsupported", `Cannot use key: ${kind} keys are not supported`, { cause });
  }
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") {
    return { type: "ssh-ed25519", key: fromBase64Url(jwk.x) };
  }
  if (jwk.kty === "RSA") {
    return { type: "ssh-rsa", e: fromBase64Url(jwk.e), n: fromBase64Url(jwk.n) };
  }
  const type = (Object.keys(ECDSA_CURVES) as EcdsaKeyType[])
    .find((t) => jwk.kty === "EC" && ECDSA_CURVES[t].jwk === jwk.crv);
  if (type === undefined) {
    const kind = [jwk.kty, jwk.crv].filter(Boolean).join(" ");
    throw new CertError("unsupported", `Cannot use key: ${kind} keys are not supported`);
  }
  const size = ECDSA_CURVES[type].size;
  const point = new Uint8Array(1 + 2 * size);
  point[0] = 4;
  point.set(leftPad(fromBase64Url(jwk.x), size), 1);
  point.set(leftPad(fromBase64Url(jwk.y), size), 1 + size);
  return { type, point };
}

/**
 * A `node:crypto` public key for verifying signatures made by `key`.
 *
 * @throws {CertError} `malformed` when the key material is invalid (e.g. a point
 *   not on its curve)
 */
export function publicKeyToKeyObject(key: PublicKey): KeyObject {
  let jwk: JsonWebKey;
  switch (key.type) {
    case "ssh-ed25519":
      jwk = { kty: "OKP", crv: "Ed25519", x: toBase64Url(key.key) };
      break;
    case "ssh-rsa":
      jwk = { kty: "RSA", e: toBase64Url(key.e), n: toBase64Url(key.n) };
      break;
    default: {
      const { jwk: crv, size } = ECDSA_CURVES[key.type];
      const x = toBase64Url(key.point.subarray(1, 1 + size));
      jwk = { kty: "EC", crv, x, y: toBase64Url(key.point.subarray(1 + size)) };
    }
  }
  try {
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch (cause) {
    throw new CertError("malformed", `Cannot use ${key.type} key: invalid key material`, {
      cause,
    });
  }
}

function toBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

function fromBase64Url(text: string | undefined): Uint8Array {
  return Uint8Array.fromBase64(text ?? "", { alphabet: "base64url" });
}
