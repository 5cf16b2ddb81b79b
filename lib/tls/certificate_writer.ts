/**
 * Writes and signs the X.509 v3 certificates postern makes (RFC 5280): the
 * cluster CA, the certificates it issues, the self-signed HTTPS certificate.
 * All are ECDSA P-256 with SHA-256 and carry only the extensions below.
 *
 * Why not a general X.509 library: @peculiar/x509 took ~80 ms to load and
 * ~40 ms to issue the two certificates every start needs (the Auth API's and
 * the local proxy's), most of `postern start`'s time; these few encoders are
 * all that issuing takes, with WebCrypto doing the signing. Certificates are
 * read with `node:crypto`'s `X509Certificate`.
 *
 * @module
 */

import {
  bitString,
  boolean,
  type Der,
  element,
  explicit,
  octetString,
  oid,
  readTlv,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./der.ts";
import { pemDecodeFirst, pemEncode } from "./pem.ts";
import { generateKeyPairSync } from "node:crypto";

/** The key and signature algorithm of every certificate here, as WebCrypto names it. */
export const P256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

/**
 * A new P-256 key pair as extractable WebCrypto keys. node:crypto makes it:
 * WebCrypto's first EC key generation in a Deno process takes ~30 ms (later
 * ones < 1 ms), node:crypto's < 1 ms, and every start makes two.
 *
 * @returns the pair, the private key usable to sign, the public one to verify
 * @example
 * ```ts
 * const keys = await generateP256KeyPair();
 * ```
 */
export async function generateP256KeyPair(): Promise<CryptoKeyPair> {
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pkcs8 = pair.privateKey.export({ type: "pkcs8", format: "der" });
  const spki = pair.publicKey.export({ type: "spki", format: "der" });
  return {
    privateKey: await crypto.subtle.importKey("pkcs8", pkcs8, P256, true, ["sign"]),
    publicKey: await crypto.subtle.importKey("spki", spki, P256, true, ["verify"]),
  };
}

/** One attribute of a distinguished name. */
export interface NameAttribute {
  type: "CN" | "O" | "OU";
  value: string;
}

const NAME_OIDS: Record<NameAttribute["type"], string> = {
  CN: "2.5.4.3",
  O: "2.5.4.10",
  OU: "2.5.4.11",
};

/**
 * A distinguished name, one attribute per RDN, in the order given.
 *
 * @param attributes the attributes; values are taken literally (no RFC 4514 escaping)
 * @returns the Name's DER
 * @example
 * ```ts
 * distinguishedName([{ type: "CN", value: "proxy-1" }, { type: "O", value: "proxy" }]);
 * ```
 */
export function distinguishedName(attributes: NameAttribute[]): Der {
  return sequence(
    ...attributes.map(({ type, value }) => set(sequence(oid(NAME_OIDS[type]), utf8String(value)))),
  );
}

/** One certificate extension. */
export interface Extension {
  oid: string;
  critical: boolean;
  /** The DER inside extnValue's OCTET STRING. */
  value: Der;
}

/** basicConstraints: a CA (that may sign only end certificates with `pathLength` 0) or not. */
export function basicConstraints(options: { ca: boolean; pathLength?: number }): Extension {
  const fields = options.ca
    ? [
      boolean(true),
      ...(options.pathLength === undefined ? [] : [smallInteger(options.pathLength)]),
    ]
    : [];
  return { oid: "2.5.29.19", critical: true, value: sequence(...fields) };
}

const KEY_USAGE_BITS = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** keyUsage, critical. */
export function keyUsage(usages: (keyof typeof KEY_USAGE_BITS)[]): Extension {
  let bits = 0;
  for (const usage of usages) bits |= 0x80 >> KEY_USAGE_BITS[usage];
  // DER drops trailing zero bits of a named bit list.
  let unused = 0;
  while (unused < 7 && !(bits & (1 << unused))) unused++;
  return { oid: "2.5.29.15", critical: true, value: bitString(Uint8Array.of(bits), unused) };
}

const PURPOSE_OIDS = { serverAuth: "1.3.6.1.5.5.7.3.1", clientAuth: "1.3.6.1.5.5.7.3.2" } as const;

/** extKeyUsage. */
export function extendedKeyUsage(purposes: (keyof typeof PURPOSE_OIDS)[]): Extension {
  return {
    oid: "2.5.29.37",
    critical: false,
    value: sequence(...purposes.map((purpose) => oid(PURPOSE_OIDS[purpose]))),
  };
}

/**
 * subjectAltName with DNS names and IP addresses (duplicates and empty names dropped).
 *
 * @throws TypeError when an IP address is not IPv4 or IPv6 text
 */
export function subjectAltName(names: { dns: string[]; ips: string[] }): Extension {
  const unique = (values: string[]) => [...new Set(values.filter(Boolean))];
  return {
    oid: "2.5.29.17",
    critical: false,
    value: sequence(
      ...unique(names.dns).map((name) => element(0x82, new TextEncoder().encode(name))),
      ...unique(names.ips).map((ip) => element(0x87, ipAddressBytes(ip))),
    ),
  };
}

/** subjectKeyIdentifier: SHA-1 of the public key's bits (RFC 5280 4.2.1.2, method 1). */
export async function subjectKeyIdentifier(publicKey: CryptoKey): Promise<Extension> {
  const raw = await crypto.subtle.exportKey("raw", publicKey);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", raw));
  return { oid: "2.5.29.14", critical: false, value: octetString(digest) };
}

/** What {@linkcode writeCertificate} certifies. */
export interface CertificateFields {
  subject: NameAttribute[];
  /** The issuer's subject as its certificate encodes it ({@linkcode subjectOf}); none when self-signed. */
  issuer?: Der;
  notBefore: Date;
  notAfter: Date;
  /** The certified P-256 public key. */
  publicKey: CryptoKey;
  /** The issuer's P-256 private key (the subject's own when self-signed). */
  signingKey: CryptoKey;
  extensions: Extension[];
}

/**
 * Writes a certificate and signs it.
 *
 * @param fields what it certifies and who signs it
 * @returns the certificate as PEM
 * @example
 * ```ts
 * const keys = await crypto.subtle.generateKey(P256, true, ["sign", "verify"]);
 * const pem = await writeCertificate({
 *   subject: [{ type: "CN", value: "localhost" }],
 *   notBefore: new Date(),
 *   notAfter: new Date(Date.now() + 86_400_000),
 *   publicKey: keys.publicKey,
 *   signingKey: keys.privateKey,
 *   extensions: [basicConstraints({ ca: false })],
 * });
 * ```
 */
export async function writeCertificate(fields: CertificateFields): Promise<string> {
  const subject = distinguishedName(fields.subject);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", fields.publicKey));
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(randomSerial()),
    ECDSA_WITH_SHA256,
    fields.issuer ?? subject,
    sequence(time(fields.notBefore), time(fields.notAfter)),
    subject,
    spki,
    explicit(
      3,
      sequence(
        ...fields.extensions.map((extension) =>
          sequence(
            oid(extension.oid),
            ...(extension.critical ? [boolean(true)] : []),
            octetString(extension.value),
          )
        ),
      ),
    ),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign(P256, fields.signingKey, tbs as Uint8Array<ArrayBuffer>),
  );
  const der = sequence(tbs, ECDSA_WITH_SHA256, bitString(ecdsaSignatureDer(signature)));
  return pemEncode(der, "CERTIFICATE");
}

/**
 * The subject Name of a certificate, byte for byte as it encodes it: what a
 * certificate it issues must name as issuer for clients to chain them.
 *
 * @param certPem the certificate (the first PEM block is read)
 * @returns the subject's DER
 * @throws RangeError when the certificate is not DER as X.509 lays it out
 */
export function subjectOf(certPem: string): Der {
  const der = pemDecodeFirst(certPem);
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.contentStart);
  let field = readTlv(der, tbs.contentStart);
  if (field.tag === 0xa0) field = readTlv(der, field.end); // version, then serial
  // serial → signature algorithm → issuer → validity → subject
  for (let skip = 0; skip < 4; skip++) field = readTlv(der, field.end);
  return der.slice(field.start, field.end);
}

/** 16 random bytes, positive and without leading zero (RFC 5280 allows up to 20 octets). */
function randomSerial(): Uint8Array {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x7f) | 0x10;
  return bytes;
}

/** WebCrypto's ECDSA signature (r ‖ s) as X.509 carries it: SEQUENCE { INTEGER r, INTEGER s }. */
function ecdsaSignatureDer(signature: Uint8Array): Der {
  const half = signature.length / 2;
  return sequence(
    unsignedInteger(signature.subarray(0, half)),
    unsignedInteger(signature.subarray(half)),
  );
}

/** An IPv4 or IPv6 address's bytes, for an iPAddress GeneralName. */
function ipAddressBytes(text: string): Uint8Array {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    if (octets.every((octet) => octet <= 255)) return Uint8Array.from(octets);
  }
  // A zone ("fe80::1%eth0") is local to this host; an IPv4 tail ("::ffff:10.0.0.1") is two groups.
  const address = text.replace(/%.*$/, "").replace(
    /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/,
    (_, a, b, c, d) =>
      [Number(a) * 256 + Number(b), Number(c) * 256 + Number(d)]
        .map((group) => group.toString(16)).join(":"),
  );
  const halves = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  if (halves.length <= 2 && address.includes(":")) {
    const head = groups(halves[0]);
    const tail = halves.length === 2 ? groups(halves[1]) : [];
    const missing = 8 - head.length - tail.length;
    if ((halves.length === 2 ? missing >= 1 : missing === 0)) {
      const all = [...head, ...Array(missing).fill("0"), ...tail];
      if (all.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) {
        return Uint8Array.from(all.flatMap((group) => {
          const value = parseInt(group, 16);
          return [value >> 8, value & 0xff];
        }));
      }
    }
  }
  throw new TypeError(`Cannot put "${text}" in a certificate: not an IPv4 or IPv6 address`);
}
