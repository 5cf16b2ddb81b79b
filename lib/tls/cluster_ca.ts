/**
 * The cluster's X.509 CA: it certifies the Auth API server and every caller
 * of it (proxies and admin machines), so both ends of the mutual TLS know
 * each other. Created on first start and kept in the store beside the SSH CAs.
 * Callers recognise it by its pin, `sha256:<hex>` of its public key
 * (SubjectPublicKeyInfo), as Teleport's `--ca-pin` does.
 *
 * @module
 */

import { createHash, X509Certificate } from "node:crypto";
import { BadRequest } from "../errors.ts";
import type { Store } from "../store/store.ts";
import {
  basicConstraints,
  extendedKeyUsage,
  generateP256KeyPair,
  keyUsage,
  P256,
  subjectAltName,
  subjectKeyIdentifier,
  subjectOf,
  writeCertificate,
} from "./certificate_writer.ts";
import { pemDecodeFirst, pemEncode } from "./pem.ts";

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
  const keys = await generateP256KeyPair();
  return {
    privateKey: pemEncode(
      new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
      "PRIVATE KEY",
    ),
    publicKey: pemEncode(
      new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey)),
      "PUBLIC KEY",
    ),
  };
}

/** The cluster TLS CA, loaded from the store. */
export class ClusterTlsCa {
  private constructor(
    readonly certPem: string,
    private readonly signingKey: CryptoKey,
    private readonly cluster: string,
    /** The CA certificate's subject, as the certificates it issues name their issuer. */
    private readonly subject: Uint8Array,
  ) {}

  /** Loads the CA, creating it on first start (two processes starting at once agree). */
  static async open(store: Store, cluster: string, now = Date.now()): Promise<ClusterTlsCa> {
    let record = await store.cas.get("tls");
    if (!record) {
      const keys = await generateP256KeyPair();
      const cert = await writeCertificate({
        subject: [{ type: "CN", value: `${cluster} cluster CA` }, { type: "O", value: "postern" }],
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + CA_VALIDITY_MS),
        publicKey: keys.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          basicConstraints({ ca: true, pathLength: 0 }),
          keyUsage(["keyCertSign", "cRLSign"]),
          await subjectKeyIdentifier(keys.publicKey),
        ],
      });
      record = await store.cas.putIfAbsent({
        kind: "tls",
        privateKey: pemEncode(
          new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
          "PRIVATE KEY",
        ),
        publicKey: cert,
        created: now,
      });
    }
    const signingKey = await crypto.subtle.importKey(
      "pkcs8",
      pemDecodeFirst(record.privateKey) as Uint8Array<ArrayBuffer>,
      P256,
      false,
      ["sign"],
    );
    return new ClusterTlsCa(record.publicKey, signingKey, cluster, subjectOf(record.publicKey));
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
        pemDecodeFirst(options.publicKey) as Uint8Array<ArrayBuffer>,
        P256,
        true,
        ["verify"],
      );
    } catch (error) {
      throw new BadRequest("The TLS public key is not a P-256 public key in PEM form.", {
        cause: error,
      });
    }
    const server = options.serverNames;
    return await writeCertificate({
      subject: [
        { type: "CN", value: options.name.id },
        { type: "O", value: options.name.kind },
        { type: "OU", value: this.cluster },
      ],
      issuer: this.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + options.ttlMs),
      publicKey,
      signingKey: this.signingKey,
      extensions: [
        basicConstraints({ ca: false }),
        keyUsage(["digitalSignature"]),
        extendedKeyUsage(
          // A proxy is a client of auth and a server to the other proxies (peer links).
          server
            ? ["serverAuth"]
            : options.name.kind === "proxy"
            ? ["clientAuth", "serverAuth"]
            : ["clientAuth"],
        ),
        ...(server ? [subjectAltName(server)] : []),
      ],
    });
  }
}
