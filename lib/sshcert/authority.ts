/**
 * The certificate authority's two jobs: issuing certificates
 * ({@link signCertificate}) and deciding whether to accept one
 * ({@link verifyCertificate}), with the same checks sshd applies.
 *
 * @module
 */

import type { KeyObject } from "node:crypto";
import {
  type Certificate,
  certificateKeyType,
  type CertOptions,
  type CertType,
  signedPart,
  writeCertificateBody,
} from "./certificate.ts";
import { CertError, type CertRejection, type CertVerdict } from "./errors.ts";
import { encodePublicKey, formatKeyLine, parsePublicKey, type PublicKey } from "./keys.ts";
import { fingerprint, publicKeyToKeyObject } from "./key_objects.ts";
import {
  type ParsedSignature,
  parseSignature,
  publicKeyOf,
  signData,
  verifyParsedSignature,
  verifySignature,
} from "./signature.ts";
import { sourceAddressAllows } from "./source_address.ts";
import { bytesEqual, encodeBase64 } from "./wire.ts";

/** The extensions `ssh-keygen` grants a user certificate by default. */
export const DEFAULT_USER_EXTENSIONS: CertOptions = Object.freeze({
  "permit-X11-forwarding": true,
  "permit-agent-forwarding": true,
  "permit-port-forwarding": true,
  "permit-pty": true,
  "permit-user-rc": true,
});

/** What to put in a new certificate (see {@link Certificate} for each field). */
export interface SignCertificateOptions {
  /** the CA's private key: ed25519 for postern's CAs; EC and RSA work too */
  readonly caPrivateKey: KeyObject;
  /** the key to certify, parsed or as its wire blob */
  readonly publicKey: PublicKey | Uint8Array;
  readonly type: CertType;
  readonly keyId: string;
  readonly principals: readonly string[];
  /** a time, or seconds since the epoch (0n: since always) */
  readonly validAfter: Date | bigint;
  /** a time, or seconds since the epoch (CERT_TIME_FOREVER: never expires) */
  readonly validBefore: Date | bigint;
  /** @default {} */
  readonly criticalOptions?: CertOptions;
  /** @default {} (DEFAULT_USER_EXTENSIONS is what ssh-keygen grants) */
  readonly extensions?: CertOptions;
  /** @default 0n */
  readonly serial?: bigint;
  /** @default 32 random bytes */
  readonly nonce?: Uint8Array;
  /** comment for the returned line @default "" */
  readonly comment?: string;
  /** signature algorithm when the CA key is RSA @default "rsa-sha2-512" */
  readonly rsaAlgorithm?: "rsa-sha2-256" | "rsa-sha2-512";
}

/** A freshly signed certificate in every form callers need. */
export interface SignedCertificate {
  readonly certificate: Certificate;
  /** the wire encoding (what ssh2 and the ssh-agent protocol carry) */
  readonly blob: Uint8Array;
  /** the `-cert.pub` / authorized_keys line, without a trailing newline */
  readonly line: string;
}

/**
 * Issues a certificate signed by `caPrivateKey`.
 *
 * @throws {CertError} `malformed` for invalid fields (empty validity window, NUL
 *   bytes in text, out-of-range serial), `unsupported` for unsupported CA key types
 * @example
 * ```ts
 * const { line } = signCertificate({
 *   caPrivateKey, publicKey: userKeyBlob, type: "user", keyId: "alice",
 *   principals: ["root", "alice"], validAfter: new Date(), validBefore: new Date(Date.now() + 3600e3),
 *   extensions: DEFAULT_USER_EXTENSIONS,
 * });
 * ```
 */
export function signCertificate(options: SignCertificateOptions): SignedCertificate {
  const validAfter = toSeconds(options.validAfter);
  const validBefore = toSeconds(options.validBefore);
  if (validAfter > validBefore) {
    throw new CertError("malformed", "Cannot sign certificate: validAfter is after validBefore");
  }
  const criticalOptions = options.criticalOptions ?? {};
  const extensions = options.extensions ?? {};
  checkText([options.keyId, ...options.principals]);
  checkText(Object.entries(criticalOptions).flat());
  checkText(Object.entries(extensions).flat());
  const body = {
    nonce: options.nonce ?? crypto.getRandomValues(new Uint8Array(32)),
    publicKey: options.publicKey instanceof Uint8Array
      ? parsePublicKey(options.publicKey)
      : options.publicKey,
    serial: options.serial ?? 0n,
    type: options.type,
    keyId: options.keyId,
    principals: options.principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    reserved: new Uint8Array(0),
    signatureKey: publicKeyOf(options.caPrivateKey),
  };
  const writer = writeCertificateBody(body);
  const signature = signData(options.caPrivateKey, writer.bytes(), {
    rsaAlgorithm: options.rsaAlgorithm,
  });
  const blob = writer.string(signature).bytes();
  const certificate: Certificate = { ...body, signature };
  const line = formatKeyLine(certificateKeyType(certificate), blob, options.comment);
  return { certificate, blob, line };
}

/** What a certificate must satisfy to be accepted. */
export interface VerifyCertificateOptions {
  /** wire blobs of the CA public keys to trust */
  readonly trustedCAs: readonly Uint8Array[];
  /** the certificate type expected: `user` for logins, `host` for servers */
  readonly type: CertType;
  /** the login or host name that must be among the principals; unchecked when absent */
  readonly principal?: string;
  /** the current time (injected so tests can move it) */
  readonly now: Date;
  /** tolerated clock difference in seconds, on both ends of the window @default 0 */
  readonly clockSkewSeconds?: number;
  /** the client's IP address, checked against a `source-address` option when given */
  readonly clientAddress?: string;
}

/**
 * Decides whether to accept `cert`, applying sshd's checks in sshd's order: CA
 * trust and signature, type, validity window, principal, critical options.
 * SHA-1 (`ssh-rsa`) CA signatures are refused, as OpenSSH does by default.
 *
 * @returns `{ ok: true }`, or `{ ok: false, reason, message }`; the message
 *   names the certificate by key id and states the problem, so that callers can
 *   append the fix that fits their context (by `reason`)
 * @throws {CertError} `malformed` only when `now` or `clockSkewSeconds` is not a finite number
 * @example
 * ```ts
 * const verdict = verifyCertificate(decodeCertificate(blob), {
 *   trustedCAs: [userCaBlob], type: "user", principal: "root", now: new Date(),
 * });
 * if (!verdict.ok) throw new AccessDenied(verdict.message);
 * ```
 */
export function verifyCertificate(
  cert: Certificate,
  options: VerifyCertificateOptions,
): CertVerdict {
  const subject = `certificate ${JSON.stringify(cert.keyId)}`;
  const reject = (reason: CertRejection, problem: string): CertVerdict => ({
    ok: false,
    reason,
    message: `Cannot accept ${subject}: ${problem}`,
  });
  const caBlob = encodePublicKey(cert.signatureKey);
  if (!options.trustedCAs.some((trusted) => bytesEqual(trusted, caBlob))) {
    return reject("untrusted_ca", `its CA ${fingerprint(caBlob)} is not trusted here`);
  }
  if (!caSignatureValid(cert, caBlob)) {
    return reject("bad_signature", "its CA signature is invalid");
  }
  if (cert.type !== options.type) {
    return reject("wrong_type", `it is a ${cert.type} certificate, not a ${options.type} one`);
  }
  const skew = BigInt(Math.max(0, Math.floor(finite(options.clockSkewSeconds ?? 0))));
  const now = BigInt(Math.floor(finite(options.now.getTime()) / 1000));
  if (now + skew < cert.validAfter) {
    return reject("not_yet_valid", `it is valid only from ${formatTime(cert.validAfter)}`);
  }
  if (now - skew >= cert.validBefore) {
    return reject("expired", `it expired at ${formatTime(cert.validBefore)}`);
  }
  const principal = options.principal;
  if (principal !== undefined && !cert.principals.includes(principal)) {
    const allowed = cert.principals.length === 0 ? "none" : cert.principals.join(", ");
    return reject(
      "principal_not_allowed",
      `it does not allow ${JSON.stringify(principal)} (allowed: ${allowed})`,
    );
  }
  return checkCriticalOptions(cert, options.clientAddress, reject);
}

/**
 * Checks a signature made by the key inside `cert`, as in SSH userauth with a
 * certificate: the signature blob names the plain algorithm (`ssh-ed25519`,
 * `rsa-sha2-256`...), the request the certificate one.
 *
 * @param options.algorithm the userauth request's algorithm, e.g.
 *   `rsa-sha2-512-cert-v01@openssh.com`; the signature must match it
 * @returns true only for a valid signature; SHA-1 (`ssh-rsa`) is refused
 * @example
 * ```ts
 * // in an ssh2 "authentication" handler: ctx.blob is the signed data
 * verifyCertificateKeySignature(cert, ctx.blob, ctx.signature, { algorithm: ctx.key.algo });
 * ```
 */
export function verifyCertificateKeySignature(
  cert: Certificate,
  data: Uint8Array,
  signature: Uint8Array,
  options: { readonly algorithm?: string } = {},
): boolean {
  // A plain algorithm name means the request was not made with this certificate.
  if (options.algorithm !== undefined && !options.algorithm.endsWith("-cert-v01@openssh.com")) {
    return false;
  }
  return verifySignature(cert.publicKey, data, signature, { algorithm: options.algorithm });
}

type Reject = (reason: CertRejection, problem: string) => CertVerdict;

function checkCriticalOptions(
  cert: Certificate,
  clientAddress: string | undefined,
  reject: Reject,
): CertVerdict {
  for (const [name, value] of Object.entries(cert.criticalOptions)) {
    // Host certificates define no critical options; ssh refuses any.
    const known = cert.type === "user" && (name === "force-command" || name === "source-address");
    if (!known || value === true) {
      return reject(
        "unsupported_critical_option",
        `its critical option ${JSON.stringify(name)} is not supported here`,
      );
    }
    if (name !== "source-address") continue;
    let allowed: boolean;
    try {
      allowed = clientAddress === undefined || sourceAddressAllows(value, clientAddress);
    } catch (error) {
      if (!(error instanceof CertError)) throw error;
      const problem = `its source-address ${JSON.stringify(value)} is not a valid address list`;
      return reject("unsupported_critical_option", problem);
    }
    if (!allowed) {
      return reject(
        "source_address_not_allowed",
        `it may be used only from ${value}, not from ${clientAddress}`,
      );
    }
  }
  return { ok: true };
}

/** node:crypto keys for trusted CAs, by blob: importing a key costs more than verifying. */
const caKeyObjects = new Map<string, KeyObject>();
const CA_CACHE_SIZE = 64;

function caSignatureValid(cert: Certificate, caBlob: Uint8Array): boolean {
  let signature: ParsedSignature;
  try {
    signature = parseSignature(cert.signature);
  } catch {
    return false;
  }
  if (signature.algorithm === "ssh-rsa") return false;
  const cacheKey = encodeBase64(caBlob);
  let keyObject = caKeyObjects.get(cacheKey);
  if (keyObject === undefined) {
    try {
      keyObject = publicKeyToKeyObject(cert.signatureKey);
    } catch {
      return false;
    }
    if (caKeyObjects.size >= CA_CACHE_SIZE) caKeyObjects.delete(caKeyObjects.keys().next().value!);
    caKeyObjects.set(cacheKey, keyObject);
  }
  return verifyParsedSignature(cert.signatureKey, keyObject, signedPart(cert), signature);
}

function toSeconds(time: Date | bigint): bigint {
  if (typeof time === "bigint") return time;
  const ms = time.getTime();
  if (!Number.isFinite(ms) || ms < 0) {
    throw new CertError("malformed", "Cannot sign certificate: validity time before 1970");
  }
  return BigInt(Math.floor(ms / 1000));
}

function finite(value: number): number {
  if (!Number.isFinite(value)) {
    throw new CertError("malformed", "Cannot verify certificate: invalid time or clock skew");
  }
  return value;
}

function formatTime(seconds: bigint): string {
  // Beyond year 9999 toISOString fails; such times mean "forever" in practice.
  return seconds >= 253402300800n
    ? "forever"
    : new Date(Number(seconds) * 1000).toISOString().replace(".000Z", "Z");
}

function checkText(values: readonly (string | true)[]): void {
  for (const value of values) {
    if (typeof value === "string" && value.includes("\0")) {
      throw new CertError("malformed", "Cannot sign certificate: text fields may not contain NUL");
    }
  }
}
