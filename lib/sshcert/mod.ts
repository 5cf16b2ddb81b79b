/**
 * OpenSSH public keys, signatures and certificates as pure functions: exact wire
 * codecs (PROTOCOL.certkeys, RFC 4253/5656/8332/8709), issuing and verifying
 * certificates the way sshd checks them, and ed25519 OpenSSH private key files.
 *
 * Every parser either returns a value or throws {@link CertError} (a
 * `BadRequest` with a `reason`); certificate verification returns a
 * {@link CertVerdict} instead of throwing, because a refused certificate is an
 * expected outcome.
 *
 * @example
 * ```ts
 * import { decodeCertificate, generateEd25519KeyPair, signCertificate, verifyCertificate } from "./mod.ts";
 *
 * const ca = generateEd25519KeyPair();
 * const user = generateEd25519KeyPair();
 * const { blob } = signCertificate({
 *   caPrivateKey: ca.privateKey, publicKey: user.publicKeyBlob, type: "user",
 *   keyId: "alice", principals: ["root"], validAfter: 0n, validBefore: new Date(Date.now() + 3600e3),
 * });
 * const verdict = verifyCertificate(decodeCertificate(blob), {
 *   trustedCAs: [ca.publicKeyBlob], type: "user", principal: "root", now: new Date(),
 * });
 * console.log(verdict.ok); // true
 * ```
 *
 * @module
 */

export { CertError, type CertErrorReason, type CertRejection, type CertVerdict } from "./errors.ts";
export { bytesEqual, decodeBase64, encodeBase64, SshReader, SshWriter } from "./wire.ts";
export {
  ECDSA_CURVES,
  type EcdsaKeyType,
  encodePublicKey,
  formatKeyLine,
  formatPublicKeyLine,
  type KeyLine,
  parseKeyLine,
  parsePublicKey,
  parsePublicKeyLine,
  type PublicKey,
  type PublicKeyType,
} from "./keys.ts";
export { fingerprint, publicKeyFromKeyObject, publicKeyToKeyObject } from "./key_objects.ts";
export {
  encodeSignature,
  type ParsedSignature,
  parseSignature,
  publicKeyOf,
  type SignatureAlgorithm,
  signData,
  type SignOptions,
  verifySignature,
  type VerifySignatureOptions,
} from "./signature.ts";
export {
  CERT_TIME_FOREVER,
  type Certificate,
  type CertificateKeyType,
  certificateKeyType,
  type CertOptions,
  type CertType,
  decodeCertificate,
  encodeCertificate,
  formatCertificateLine,
  MAX_PRINCIPALS,
  parseCertificateLine,
} from "./certificate.ts";
export {
  DEFAULT_USER_EXTENSIONS,
  signCertificate,
  type SignCertificateOptions,
  type SignedCertificate,
  verifyCertificate,
  verifyCertificateKeySignature,
  type VerifyCertificateOptions,
} from "./authority.ts";
export { sourceAddressAllows } from "./source_address.ts";
export {
  encodeOpenSshPrivateKey,
  generateEd25519KeyPair,
  type KeyPair,
  keyPairOf,
  parseOpenSshPrivateKey,
} from "./private_key.ts";
