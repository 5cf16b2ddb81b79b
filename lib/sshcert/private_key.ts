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
import { encodePublicKey, parsePublicKey, type PublicKey, publicKeyFromKeyObject } from "./keys.ts";
import { bytesEqual, decodeBase64, encodeBase64, SshReader, SshWriter } from "./wire.ts";

/** A private key with its SSH public key, ready for signing and for certificates. */
export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: PublicKey;
  /** `encodePublicKey(publicKey)`: what certificates and authorized_keys lines carry */
  readonly publicKeyBlob: Uint8Array;
}

const MAGIC = new TextEncoder().encode("openssh-key-v1\0");
const BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END = "-----END OPENSSH PRIVATE KEY-----";
const BLOCK_SIZE = 8; // the "none" cipher's block size; the private section is padded to it

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
  const pub = Uint8Array.fromBase64(jwk.x ?? "", { alphabet: "base64url" });
  const secret = new Uint8Array(64);
  secret.set(seed);
  secret.set(pub, 32);

  const check = crypto.getRandomValues(new Uint32Array(1))[0];
  const section = new SshWriter(256)
    .u32(check)
    .u32(check)
    .string("ssh-ed25519")
    .string(pub)
    .string(secret)
    .string(comment);
  for (let pad = 1; section.length % BLOCK_SIZE !== 0; pad++) section.u8(pad);

  const file = new SshWriter(512)
    .raw(MAGIC)
    .string("none") // cipher
    .string("none") // kdf
    .string("") // kdf options
    .u32(1) // number of keys
    .string(encodePublicKey({ type: "ssh-ed25519", key: pub }))
    .string(section.bytes())
    .bytes();
  secret.fill(0);
  const lines = encodeBase64(file).match(/.{1,70}/g) ?? [];
  return `${BEGIN}\n${lines.join("\n")}\n${END}\n`;
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
  const what = "private key";
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END, begin + BEGIN.length);
  if (begin < 0 || end < 0) {
    throw new CertError("malformed", `Cannot parse ${what}: not an OpenSSH private key file`);
  }
  const bytes = decodeBase64(text.slice(begin + BEGIN.length, end), what);
  const reader = new SshReader(bytes, what);
  if (!bytesEqual(reader.raw(Math.min(MAGIC.length, bytes.length)), MAGIC)) {
    reader.fail("not in openssh-key-v1 format");
  }
  const cipher = reader.cstring();
  const kdf = reader.cstring();
  reader.string(); // kdf options
  if (cipher !== "none" || kdf !== "none") {
    throw new CertError(
      "unsupported",
      `Cannot use ${what}: it is encrypted (${cipher}); remove the passphrase with ` +
        "`ssh-keygen -p -N '' -f <file>` or use an unencrypted key",
    );
  }
  if (reader.u32() !== 1) reader.fail("files holding several keys are not supported");
  const publicKey = parsePublicKey(reader.string(), what);
  const section = reader.string();
  reader.end();
  if (publicKey.type !== "ssh-ed25519") {
    throw new CertError("unsupported", `Cannot use ${what}: only ed25519 keys are supported`);
  }
  const { privateKey, comment } = readPrivateSection(section, publicKey.key);
  return { ...keyPairOf(privateKey), comment };
}

function readPrivateSection(
  section: Uint8Array,
  pub: Uint8Array,
): { privateKey: KeyObject; comment: string } {
  const reader = new SshReader(section, "private key");
  if (section.length % BLOCK_SIZE !== 0) reader.fail("private section is not padded");
  if (reader.u32() !== reader.u32()) reader.fail("check bytes differ (damaged file)");
  const type = reader.cstring();
  if (type !== "ssh-ed25519") reader.fail(`private part is ${type}, public part ssh-ed25519`);
  const innerPub = reader.string();
  const secret = reader.string();
  const comment = reader.cstring();
  for (let pad = 1; reader.remaining > 0; pad++) {
    if (reader.u8() !== (pad & 0xff)) reader.fail("invalid padding");
  }
  if (
    secret.length !== 64 || !bytesEqual(innerPub, pub) || !bytesEqual(secret.subarray(32), pub)
  ) {
    reader.fail("public and private parts do not match");
  }
  const x = pub.toBase64({ alphabet: "base64url", omitPadding: true });
  const d = secret.subarray(0, 32).toBase64({ alphabet: "base64url", omitPadding: true });
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d, x }, format: "jwk" });
  } catch {
    return reader.fail("invalid ed25519 private key");
  }
  // The seed must derive the stored public key, or signatures would not verify.
  if (createPublicKey(privateKey).export({ format: "jwk" }).x !== x) {
    reader.fail("public and private parts do not match");
  }
  return { privateKey, comment };
}
