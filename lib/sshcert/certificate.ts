/**
 * OpenSSH certificates (`*-cert-v01@openssh.com`, PROTOCOL.certkeys): the
 * {@link Certificate} type and its exact wire codec.
 *
 * @module
 */

import { CertError } from "./errors.ts";
import {
  encodePublicKey,
  formatKeyLine,
  isPublicKeyType,
  parseKeyLine,
  parsePublicKey,
  type PublicKey,
  type PublicKeyType,
  readPublicKeyFields,
  writePublicKeyFields,
} from "./keys.ts";
import { SshReader, SshWriter } from "./wire.ts";

/** What a certificate vouches for: a user (1 on the wire) or a host (2). */
export type CertType = "user" | "host";

/** Certificate key type names, e.g. `ssh-ed25519-cert-v01@openssh.com`. */
export type CertificateKeyType = `${PublicKeyType}-cert-v01@openssh.com`;

/**
 * Critical options or extensions by name. A string is a value (wire: a string
 * inside the data field, as `force-command` and `source-address` carry); `true`
 * is a flag (wire: empty data, as every `permit-*` extension).
 */
export type CertOptions = Readonly<Record<string, string | true>>;

/** Every field of an OpenSSH certificate, in wire order. */
export interface Certificate {
  /** random bytes that make the signed data unpredictable (32 from OpenSSH and postern) */
  readonly nonce: Uint8Array;
  /** the key being certified; its type gives the certificate's type name */
  readonly publicKey: PublicKey;
  /** CA-chosen serial number (uint64) */
  readonly serial: bigint;
  readonly type: CertType;
  /** free-form identifier logged by sshd, e.g. `alice` */
  readonly keyId: string;
  /** logins (user certs) or host names (host certs) the certificate is valid for */
  readonly principals: readonly string[];
  /** seconds since the epoch (uint64); 0 means "since always" */
  readonly validAfter: bigint;
  /** seconds since the epoch (uint64); {@link CERT_TIME_FOREVER} means "never expires" */
  readonly validBefore: bigint;
  readonly criticalOptions: CertOptions;
  readonly extensions: CertOptions;
  /** reserved by the format; empty in practice */
  readonly reserved: Uint8Array;
  /** the CA's public key */
  readonly signatureKey: PublicKey;
  /** the CA's SSH signature blob over every preceding byte of the certificate */
  readonly signature: Uint8Array;
}

/** `validBefore` of a certificate that never expires (2^64-1). */
export const CERT_TIME_FOREVER = 0xffff_ffff_ffff_ffffn;

/** OpenSSH refuses certificates with more principals than this. */
export const MAX_PRINCIPALS = 256;

const CERT_SUFFIX = "-cert-v01@openssh.com";
const CERT_TYPES: readonly CertType[] = ["user", "host"];
const utf8 = new TextEncoder();

/** The bytes a decoded certificate's signature covers (its encoding up to the signature). */
const signedParts = new WeakMap<Certificate, Uint8Array>();

/** The certificate key type name of `cert`, e.g. `ssh-ed25519-cert-v01@openssh.com`. */
export function certificateKeyType(cert: Certificate): CertificateKeyType {
  return `${cert.publicKey.type}${CERT_SUFFIX}`;
}

/**
 * Parses a certificate blob. The result keeps no reference to `blob`.
 *
 * Options and extensions in any order are accepted (as sshd does); repeated
 * names, option data that is neither empty nor one string, and unknown
 * certificate types are refused.
 *
 * @throws {CertError} `malformed` for any encoding problem, `unsupported` for
 *   key types postern does not handle
 * @example
 * ```ts
 * const cert = decodeCertificate(blob);
 * console.log(cert.keyId, cert.principals);
 * ```
 */
export function decodeCertificate(blob: Uint8Array): Certificate {
  const bytes = new Uint8Array(blob); // callers' buffers (e.g. ssh2 packets) may be reused
  const reader = new SshReader(bytes, "certificate");
  const name = reader.cstring();
  const plain = name.endsWith(CERT_SUFFIX) ? name.slice(0, -CERT_SUFFIX.length) : "";
  if (!isPublicKeyType(plain)) {
    throw new CertError(
      "unsupported",
      `Cannot use certificate: type ${JSON.stringify(name)} is not supported`,
    );
  }
  const nonce = reader.string();
  const publicKey = readPublicKeyFields(plain, reader);
  const serial = reader.u64();
  const typeCode = reader.u32();
  const type = CERT_TYPES[typeCode - 1];
  if (type === undefined) reader.fail(`unknown certificate type ${typeCode}`);
  const keyId = reader.cstring();
  const principals = readPrincipals(reader.string());
  const validAfter = reader.u64();
  const validBefore = reader.u64();
  const criticalOptions = readOptions(reader.string(), "certificate critical options");
  const extensions = readOptions(reader.string(), "certificate extensions");
  const reserved = reader.string();
  const signatureKey = parsePublicKey(reader.string(), "certificate signing key");
  const signedLength = reader.position;
  const signature = reader.string();
  reader.end();
  const cert: Certificate = {
    nonce,
    publicKey,
    serial,
    type,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    reserved,
    signatureKey,
    signature,
  };
  signedParts.set(cert, bytes.subarray(0, signedLength));
  return cert;
}

/**
 * Encodes a certificate. Options and extensions are written sorted by name, as
 * PROTOCOL.certkeys requires; `decodeCertificate(encodeCertificate(c))` equals `c`.
 *
 * @throws {CertError} `malformed` for out-of-range integers or too many principals
 * @example
 * ```ts
 * const blob = encodeCertificate(cert);
 * ```
 */
export function encodeCertificate(cert: Certificate): Uint8Array {
  const writer = writeCertificateBody(cert);
  writer.string(cert.signature);
  return writer.bytes();
}

/**
 * Writes everything the CA signs: the certificate up to, not including, the
 * signature field. The writer has room left for a signature.
 */
export function writeCertificateBody(cert: Omit<Certificate, "signature">): SshWriter {
  if (cert.principals.length > MAX_PRINCIPALS) {
    throw new CertError(
      "malformed",
      `Cannot encode certificate: ${cert.principals.length} principals, at most ${MAX_PRINCIPALS}`,
    );
  }
  const writer = new SshWriter(1024);
  writer.string(`${cert.publicKey.type}${CERT_SUFFIX}`).string(cert.nonce);
  writePublicKeyFields(cert.publicKey, writer);
  writer.u64(cert.serial).u32(CERT_TYPES.indexOf(cert.type) + 1).string(cert.keyId);
  writer.nested((w) => {
    for (const principal of cert.principals) w.string(principal);
  });
  writer.u64(cert.validAfter).u64(cert.validBefore);
  writeOptions(writer, cert.criticalOptions);
  writeOptions(writer, cert.extensions);
  writer.string(cert.reserved).string(encodePublicKey(cert.signatureKey));
  return writer;
}

/**
 * The bytes the CA signature of `cert` covers: the original bytes for decoded
 * certificates (so verification never depends on re-encoding), else the encoding.
 */
export function signedPart(cert: Certificate): Uint8Array {
  return signedParts.get(cert) ?? writeCertificateBody(cert).bytes();
}

/**
 * Parses a `<cert type> <base64> [comment]` line, as in `id_ed25519-cert.pub`.
 *
 * @throws {CertError} `malformed` when the line's type and the blob's type differ
 * @example
 * ```ts
 * const { certificate } = parseCertificateLine(await Deno.readTextFile("id_ed25519-cert.pub"));
 * ```
 */
export function parseCertificateLine(
  line: string,
): { certificate: Certificate; blob: Uint8Array; comment: string } {
  const { type, blob, comment } = parseKeyLine(line, "certificate line");
  const certificate = decodeCertificate(blob);
  if (certificateKeyType(certificate) !== type) {
    throw new CertError(
      "malformed",
      `Cannot parse certificate line: it says ${JSON.stringify(type)} ` +
        `but holds ${certificateKeyType(certificate)}`,
    );
  }
  return { certificate, blob, comment };
}

/**
 * Formats a certificate as a `-cert.pub` / authorized_keys line.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("id_ed25519-cert.pub", formatCertificateLine(cert, "alice") + "\n");
 * ```
 */
export function formatCertificateLine(cert: Certificate, comment = ""): string {
  return formatKeyLine(certificateKeyType(cert), encodeCertificate(cert), comment);
}

function readPrincipals(bytes: Uint8Array): string[] {
  const reader = new SshReader(bytes, "certificate principals");
  const principals: string[] = [];
  while (reader.remaining > 0) {
    if (principals.length === MAX_PRINCIPALS) reader.fail(`more than ${MAX_PRINCIPALS}`);
    principals.push(reader.cstring());
  }
  return principals;
}

function readOptions(bytes: Uint8Array, what: string): CertOptions {
  const reader = new SshReader(bytes, what);
  const options: Record<string, string | true> = {};
  while (reader.remaining > 0) {
    const name = reader.cstring();
    if (Object.hasOwn(options, name)) reader.fail(`${JSON.stringify(name)} appears twice`);
    const data = reader.string();
    let value: string | true = true;
    if (data.length > 0) {
      const inner = new SshReader(data, `${what} (${JSON.stringify(name)})`);
      value = inner.cstring();
      inner.end();
    }
    // defineProperty: a name like "__proto__" must become data, not a prototype.
    Object.defineProperty(options, name, { value, enumerable: true, writable: true });
  }
  return options;
}

function writeOptions(writer: SshWriter, options: CertOptions): void {
  const sorted = Object.keys(options)
    .map((name) => ({ name, bytes: utf8.encode(name) }))
    .sort((a, b) => compareBytes(a.bytes, b.bytes));
  writer.nested((w) => {
    for (const { name, bytes } of sorted) {
      const value = options[name];
      w.string(bytes);
      if (value === true) w.u32(0);
      else w.nested((d) => d.string(value));
    }
  });
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
