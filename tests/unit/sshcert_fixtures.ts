/** Keys, times and shorthands shared by the sshcert unit tests. */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  CertError,
  type CertErrorReason,
  type Certificate,
  type CertVerdict,
  DEFAULT_USER_EXTENSIONS,
  generateEd25519KeyPair,
  type KeyPair,
  keyPairOf,
  signCertificate,
  type SignCertificateOptions,
  type SignedCertificate,
  verifyCertificate,
  type VerifyCertificateOptions,
} from "../../lib/sshcert/mod.ts";

export const CA = generateEd25519KeyPair();
export const OTHER_CA = generateEd25519KeyPair();
export const USER = generateEd25519KeyPair();
export const NOW = new Date("2030-06-01T12:00:00Z");
export const NOW_S = BigInt(NOW.getTime() / 1000);

/** One key pair of every supported type (RSA at OpenSSH's minimum size, for speed). */
export const KEYS: Record<string, KeyPair> = {
  "ed25519": USER,
  "p256": keyPairOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey),
  "p384": keyPairOf(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey),
  "p521": keyPairOf(generateKeyPairSync("ec", { namedCurve: "P-521" }).privateKey),
  "rsa": keyPairOf(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey),
};

/** A user certificate for USER by CA, valid for an hour either side of NOW. */
export function issue(overrides: Partial<SignCertificateOptions> = {}): SignedCertificate {
  return signCertificate({
    caPrivateKey: CA.privateKey,
    publicKey: USER.publicKeyBlob,
    type: "user",
    keyId: "alice",
    principals: ["root", "alice"],
    validAfter: NOW_S - 3600n,
    validBefore: NOW_S + 3600n,
    extensions: DEFAULT_USER_EXTENSIONS,
    ...overrides,
  });
}

/** verifyCertificate() as a user login as root at NOW, trusting CA. */
export function verify(
  cert: Certificate,
  overrides: Partial<VerifyCertificateOptions> = {},
): CertVerdict {
  return verifyCertificate(cert, {
    trustedCAs: [OTHER_CA.publicKeyBlob, CA.publicKeyBlob],
    type: "user",
    principal: "root",
    now: NOW,
    ...overrides,
  });
}

/** Asserts that `fn` throws a CertError with `reason`. */
export function assertCertError(fn: () => unknown, reason: CertErrorReason, label: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CertError, `${label}: expected CertError, got ${error}`);
    assert.equal(error.reason, reason, `${label}: ${error.message}`);
    return true;
  });
}
