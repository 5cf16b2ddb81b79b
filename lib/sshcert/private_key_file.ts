/**
 * The unencrypted OpenSSH private key file format for ed25519 keys
 * (`-----BEGIN OPENSSH PRIVATE KEY-----`, OpenSSH PROTOCOL.key) as bytes:
 * the 32-byte seed and public key in, the same out. No cryptography, so that
 * reading a key to sign with WebCrypto does not load node:crypto;
 * private_key.ts turns these into `node:crypto` keys.
 *
 * @module
 */

import { CertError } from "./errors.ts";
import { encodePublicKey, parsePublicKey } from "./keys.ts";
import { bytesEqual, decodeBase64, encodeBase64, SshReader, SshWriter } from "./wire.ts";

/** What an ed25519 private key file holds. */
export interface Ed25519KeyFile {
  /** The 32-byte private seed (RFC 8032). A secret. */
  readonly seed: Uint8Array;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  readonly comment: string;
}

const MAGIC = new TextEncoder().encode("openssh-key-v1\0");
const BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END = "-----END OPENSSH PRIVATE KEY-----";
const BLOCK_SIZE = 8; // the "none" cipher's block size; the private section is padded to it

/**
 * Writes an ed25519 key as an unencrypted OpenSSH private key file. The text
 * is a secret: store it with mode 0600 (ssh refuses looser modes).
 *
 * @param key the seed, public key and comment (shown by `ssh-keygen -l`)
 * @returns the file's text
 * @example
 * ```ts
 * const text = writeEd25519KeyFile({ seed, publicKey, comment: "alice" });
 * ```
 */
export function writeEd25519KeyFile(key: Ed25519KeyFile): string {
  const secret = new Uint8Array(64);
  secret.set(key.seed);
  secret.set(key.publicKey, 32);

  const check = crypto.getRandomValues(new Uint32Array(1))[0];
  const section = new SshWriter(256)
    .u32(check)
    .u32(check)
    .string("ssh-ed25519")
    .string(key.publicKey)
    .string(secret)
    .string(key.comment);
  for (let pad = 1; section.length % BLOCK_SIZE !== 0; pad++) section.u8(pad);

  const file = new SshWriter(512)
    .raw(MAGIC)
    .string("none") // cipher
    .string("none") // kdf
    .string("") // kdf options
    .u32(1) // number of keys
    .string(encodePublicKey({ type: "ssh-ed25519", key: key.publicKey }))
    .string(section.bytes())
    .bytes();
  secret.fill(0);
  const lines = encodeBase64(file).match(/.{1,70}/g) ?? [];
  return `${BEGIN}\n${lines.join("\n")}\n${END}\n`;
}

/**
 * Reads an unencrypted ed25519 OpenSSH private key file (ours, or one made by
 * `ssh-keygen -t ed25519 -N ''`). Whether the seed derives the public key is
 * for the caller to check (it takes an ed25519 implementation).
 *
 * @param text the file's text
 * @returns the seed, public key and comment
 * @throws {CertError} `malformed` for damaged files, `unsupported` for encrypted
 *   files and other key types
 * @example
 * ```ts
 * const { seed, publicKey } = readEd25519KeyFile(await Deno.readTextFile(path));
 * ```
 */
export function readEd25519KeyFile(text: string): Ed25519KeyFile {
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
  return readPrivateSection(section, publicKey.key);
}

function readPrivateSection(section: Uint8Array, pub: Uint8Array): Ed25519KeyFile {
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
  return { seed: secret.slice(0, 32), publicKey: pub, comment };
}
