/**
 * The cluster's X.509 CA: it certifies the Auth API server and every caller
 * of it (proxies and admin machines), so both ends of the mutual TLS know
 * each other. Created on first start and kept in the store beside the SSH CAs.
 * Callers recognise it by its pin, `sha256:<hex>` of its public key
 * (SubjectPublicKeyInfo), as Teleport's `--ca-pin` does.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, X509Certificate } from "node:crypto";
import { BadRequest } from "../errors.ts";
import type { Store } from "../store/store.ts";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const CA_VALIDITY_MS = 10 * 365 * 86_400_000;

/** Who a certificate of this CA names: the caller kind (O) and its id (CN). */
export interface CallerName {
  kind: "proxy" | "admin" | "auth";
  id: string;
}

/** The pin of a CA certificate: `sha256:` and the hex SHA-256 of its public key. */
export function caPin(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

/** A new P-256 key pair: the private key as PKCS#8 PEM, the public key as SPKI PEM. */
export async function generateTlsKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  x509.cryptoProvider.set(crypto);
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  return {
    privateKey: x509.PemConverter.encode(
      await crypto.subtle.exportKey("pkcs8", keys.privateKey),
      "PRIVATE KEY",
    ),
    publicKey: x509.PemConverter.encode(
      await crypto.subtle.exportKey("spki", keys.publicKey),
      "PUBLIC KEY",
    ),
  };
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x10;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The cluster TLS CA, loaded from the store. */
export class ClusterTlsCa {
  private constructor(
    readonly certPem: string,
    private readonly signingKey: CryptoKey,
    private readonly cluster: string,
  ) {}

  /** Loads the CA, creating it on first start (two processes starting at once agree). */
  static async open(store: Store, cluster: string, now = Date.now()): Promise<ClusterTlsCa> {
    x509.cryptoProvider.set(crypto);
    let record = await store.cas.get("tls");
    if (!record) {
      const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: randomSerial(),
        name: `CN=${cluster} cluster CA, O=postern`,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + CA_VALIDITY_MS),
        keys,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
            true,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      record = await store.cas.putIfAbsent({
        kind: "tls",
        privateKey: x509.PemConverter.encode(
          await crypto.subtle.exportKey("pkcs8", keys.privateKey),
          "PRIVATE KEY",
        ),
        publicKey: cert.toString("pem"),
        created: now,
      });
    }
    const signingKey = await crypto.subtle.importKey(
      "pkcs8",
      x509.PemConverter.decodeFirst(record.privateKey),
      ALGORITHM,
      false,
      ["sign"],
    );
    return new ClusterTlsCa(record.publicKey, signingKey, cluster);
  }

  /** This CA's pin (see {@linkcode caPin}). */
  get pin(): string {
    return caPin(this.certPem);
  }

  /**
   * Certifies `publicKey` (SPKI PEM, P-256): a client certificate naming a
   * caller, or the Auth API's server certificate for `names`.
   *
   * @throws BadRequest when the public key is not a P-256 SPKI PEM
   */
  async issue(options: {
    publicKey: string;
    name: CallerName;
    ttlMs: number;
    /** DNS names and IP addresses, for a server certificate. */
    serverNames?: { dns: string[]; ips: string[] };
    now?: number;
  }): Promise<string> {
    const now = options.now ?? Date.now();
    let publicKey: CryptoKey;
    try {
      publicKey = await crypto.subtle.importKey(
        "spki",
        x509.PemConverter.decodeFirst(options.publicKey),
        ALGORITHM,
        true,
        ["verify"],
      );
    } catch (error) {
      throw new BadRequest("The TLS public key is not a P-256 public key in PEM form.", {
        cause: error,
      });
    }
    const issuer = new x509.X509Certificate(this.certPem);
    const server = options.serverNames;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${escapeRdn(options.name.id)}, O=${options.name.kind}, OU=${
        escapeRdn(this.cluster)
      }`,
      issuer: issuer.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + options.ttlMs),
      signingKey: this.signingKey,
      publicKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(
          // A proxy is a client of auth and a server to the other proxies (peer links).
          server
            ? [x509.ExtendedKeyUsage.serverAuth]
            : options.name.kind === "proxy"
            ? [x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]
            : [x509.ExtendedKeyUsage.clientAuth],
        ),
        ...(server
          ? [
            new x509.SubjectAlternativeNameExtension([
              ...[...new Set(server.dns)].map((value) => ({ type: "dns" as const, value })),
              ...[...new Set(server.ips)].map((value) => ({ type: "ip" as const, value })),
            ]),
          ]
          : []),
      ],
    });
    return cert.toString("pem");
  }
}

/** Escapes the characters RFC 4514 reserves in a distinguished-name value. */
function escapeRdn(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`);
}
