/**
 * The SSH signature blob's framing, `string algorithm, string signature`
 * (RFC 4253 §6.6), with no cryptography: signature.ts signs and verifies
 * with node:crypto, webcrypto_signer.ts signs with WebCrypto.
 *
 * @module
 */

import { SshReader, SshWriter } from "./wire.ts";

/** A signature blob split into its algorithm and the algorithm-specific bytes. */
export interface ParsedSignature {
  readonly algorithm: string;
  readonly bytes: Uint8Array;
}

/**
 * Splits a signature blob.
 *
 * @throws {CertError} `malformed` when the blob is not `string, string`
 */
export function parseSignature(blob: Uint8Array): ParsedSignature {
  const reader = new SshReader(blob, "signature");
  const algorithm = reader.cstring();
  const bytes = reader.string();
  reader.end();
  return { algorithm, bytes };
}

/** Encodes `string algorithm, string bytes`. */
export function encodeSignature(algorithm: string, bytes: Uint8Array): Uint8Array {
  return new SshWriter(16 + algorithm.length + bytes.length).string(algorithm).string(bytes)
    .bytes();
}
