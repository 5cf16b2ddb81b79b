/**
 * Ed25519 key pairs and the unencrypted OpenSSH private key file format
 * (`-----BEGIN OPENSSH PRIVATE KEY-----`, OpenSSH PROTOCOL.key), the format
 * `ssh -i` and `ssh-keygen -y -f` read and `ssh-keygen -t ed25519 -N ''` writes.
 *
 * @module
 */

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { CertError } from "./errors.ts";
import { encodePublicKey, type PublicKey } from "./keys.ts";
import { publicKeyFromKeyObject } from "./key_objects.ts";
import { readEd25519KeyFile, writeEd25519KeyFile } from "./private_key_file.ts";

/** A private key with its SSH public key, ready for signing and for certificates. */
export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: PublicKey;
  /** `encodePublicKey(publicKey)`: what certificates and authorized_keys lines carry */
  readonly publicKeyBlob: Uint8Array;
}

/**
 * Generates a fresh ed25519 key pair.
 *
 * @example
 * ```ts
 * const { privateKey, publicKeyBlob } = generateEd25519KeyPair();
 * ```
 */
export function generateEd25519KeyPair(): KeyPair {
  return keyPairOf(generateKeyPairSync("ed25519").privateKey);
}

/** The {@link KeyPair} of an existing private key (ed25519, EC or RSA). */
export function keyPairOf(privateKey: KeyObject): KeyPair {
  const publicKey = publicKeyFromKeyObject(privateKey);
  return { privateKey, publicKey, publicKeyBlob: encodePublicKey(publicKey) };
}

/**
 * Writes an ed25519 private key as an unencrypted OpenSSH private key file.
 * The text is a secret: store it with mode 0600 (ssh refuses looser modes).
 *
 * @param comment stored in the file, shown by `ssh-keygen -l`
 * @throws {CertError} `unsupported` for key types other than ed25519
 * @example
 * ```ts
 * await Deno.writeTextFile(path, encodeOpenSshPrivateKey(privateKey, "alice"), { mode: 0o600 });
 * ```
 */
export function encodeOpenSshPrivateKey(privateKey: KeyObject, comment = ""): string {
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
    throw new CertError("unsupported", "Cannot write private key: only ed25519 keys are supported");
  }
  const jwk = privateKey.export({ format: "jwk" });
  const seed = Uint8Array.fromBase64(jwk.d ?? "", { alphabet: "base64url" });
  const publicKey = Uint8Array.fromBase64(jwk.x ?? "", { alphabet: "base64url" });
  const text = writeEd25519KeyFile({ seed, publicKey, comment });
  seed.fill(0);
  return text;
}

/**
 * Reads an unencrypted ed25519 OpenSSH private key file (ours, or one made by
 * `ssh-keygen -t ed25519 -N ''`).
 *
 * @returns the key pair and the comment stored in the file
 * @throws {CertError} `malformed` for damaged files, `unsupported` for encrypted
 *   files and other key types
 * @example
 * ```ts
 * const { privateKey } = parseOpenSshPrivateKey(await Deno.readTextFile(path));
 * ```
 */
export function parseOpenSshPrivateKey(text: string): KeyPair & { readonly comment: string } {
  const { seed, publicKey, comment } = readEd25519KeyFile(text);
  const x = publicKey.toBase64({ alphabet: "base64url", omitPadding: true });
  const d = seed.toBase64({ alphabet: "base64url", omitPadding: true });
  seed.fill(0);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d, x }, format: "jwk" });
  } catch {
    throw new CertError("malformed", "Cannot parse private key: invalid ed25519 private key");
  }
  // The seed must derive the stored public key, or signatures would not verify.
  if (createPublicKey(privateKey).export({ format: "jwk" }).x !== x) {
    throw new CertError(
      "malformed",
      "Cannot parse private key: public and private parts do not match",
    );
  }
  return { ...keyPairOf(privateKey), comment };
}
