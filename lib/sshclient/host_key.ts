/**
 * Host key checks for outgoing SSH connections: fingerprints and a pinned-key
 * verifier whose mismatch error names both keys.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { AccessDenied, BadRequest } from "../errors.ts";

/**
 * Decides whether the host key a node presented is the right one. Return true to
 * go on, false to refuse; or throw a PosternError (such as the AccessDenied of
 * {@link pinnedHostKey}) whose message says why. May be async (a lookup).
 */
export type HostKeyVerifier = (hostKey: Uint8Array) => boolean | Promise<boolean>;

/**
 * The OpenSSH SHA-256 fingerprint of a public key blob, as `ssh-keygen -l` prints it.
 *
 * @param blob the SSH wire-format public key (what a node sends during key exchange)
 * @returns `SHA256:` and unpadded base64
 * @example
 * ```ts
 * fingerprintSha256(blob); // "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
 * ```
 */
export function fingerprintSha256(blob: Uint8Array): string {
  const digest = createHash("sha256").update(blob).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

/**
 * The key blob of a public key line (`ssh-ed25519 AAAA... comment`).
 *
 * @param line an OpenSSH public key line
 * @returns the decoded blob
 * @throws BadRequest when the line is not `<type> <base64> [comment]` with a matching type
 * @example
 * ```ts
 * const blob = publicKeyBlob("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...");
 * ```
 */
export function publicKeyBlob(line: string): Uint8Array {
  const [type, b64] = line.trim().split(/\s+/);
  if (!type || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) {
    throw new BadRequest(
      `Cannot read host key: expected "<type> <base64>", got "${line.slice(0, 40)}"`,
    );
  }
  const blob = new Uint8Array(Buffer.from(b64, "base64"));
  const len = blob.length >= 4 ? new DataView(blob.buffer).getUint32(0) : -1;
  const inner = len >= 0 && 4 + len <= blob.length
    ? new TextDecoder().decode(blob.subarray(4, 4 + len))
    : "";
  if (inner !== type) {
    throw new BadRequest(
      `Cannot read host key: the line says "${type}" but its key says "${inner}"`,
    );
  }
  return blob;
}

/**
 * A verifier that accepts exactly one host key. On a mismatch it throws an
 * AccessDenied that names the expected and the presented fingerprint and what to
 * do; `connectSsh` prefixes it with the node's address.
 *
 * @param expected the registered host key: a public key line or its blob
 * @returns a verifier for `connectSsh`
 * @example
 * ```ts
 * await connectSsh({ host, port, username, certificate, privateKey,
 *   hostKeyVerifier: pinnedHostKey(node.hostKey) });
 * ```
 */
export function pinnedHostKey(expected: string | Uint8Array): HostKeyVerifier {
  const want = typeof expected === "string" ? publicKeyBlob(expected) : expected;
  const wantFingerprint = fingerprintSha256(want);
  return (presented) => {
    if (Buffer.from(presented).equals(Buffer.from(want))) return true;
    throw new AccessDenied(
      `host key mismatch: expected ${wantFingerprint}, presented ${
        fingerprintSha256(presented)
      }. If the node's host key was changed on purpose, update its registered host key; ` +
        "otherwise someone may be intercepting the connection",
    );
  };
}
