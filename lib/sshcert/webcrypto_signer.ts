/**
 * Signs with an ed25519 OpenSSH private key file through WebCrypto, giving
 * the same SSH signature blobs as signature.ts's `signData`.
 *
 * Why a second signer: the CLI signs each request to the proxy (`ls`,
 * `proxy ssh`, which OpenSSH starts for every connection) and loading
 * node:crypto for it took ~15 ms of each command's start (Deno loads its Node
 * compatibility layer on first use); WebCrypto's Ed25519 is built in.
 *
 * @module
 */

import { CertError } from "./errors.ts";
import { readEd25519KeyFile } from "./private_key_file.ts";
import { encodeSignature } from "./signature_blob.ts";

/** Signs data: resolves to an SSH signature blob (`ssh-ed25519`). */
export type SshSigner = (data: Uint8Array) => Promise<Uint8Array>;

/**
 * Reads an unencrypted ed25519 OpenSSH private key file into a signer.
 *
 * @param text the private key file's text
 * @returns a signer for it
 * @throws {CertError} as `readEd25519KeyFile` does, and `malformed` when
 *   WebCrypto refuses the key
 * @example
 * ```ts
 * const sign = await webCryptoSigner(await Deno.readTextFile(path));
 * const blob = await sign(new TextEncoder().encode("hello"));
 * ```
 */
export async function webCryptoSigner(text: string): Promise<SshSigner> {
  const { seed, publicKey } = readEd25519KeyFile(text);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey(
      "jwk",
      {
        kty: "OKP",
        crv: "Ed25519",
        d: seed.toBase64({ alphabet: "base64url", omitPadding: true }),
        x: publicKey.toBase64({ alphabet: "base64url", omitPadding: true }),
      },
      "Ed25519",
      false,
      ["sign"],
    );
  } catch (cause) {
    throw new CertError("malformed", "Cannot parse private key: invalid ed25519 private key", {
      cause,
    });
  } finally {
    seed.fill(0);
  }
  // The seed must derive the stored public key, or signatures would not verify.
  const probe = new Uint8Array(32);
  const verifier = await crypto.subtle.importKey(
    "raw",
    publicKey as Uint8Array<ArrayBuffer>,
    "Ed25519",
    false,
    ["verify"],
  );
  const sample = await crypto.subtle.sign("Ed25519", key, probe);
  if (!(await crypto.subtle.verify("Ed25519", verifier, sample, probe))) {
    throw new CertError(
      "malformed",
      "Cannot parse private key: public and private parts do not match",
    );
  }
  return async (data) =>
    encodeSignature(
      "ssh-ed25519",
      new Uint8Array(
        await crypto.subtle.sign("Ed25519", key, data as Uint8Array<ArrayBuffer>),
      ),
    );
}
