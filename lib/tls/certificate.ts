/**
 * The proxy's HTTPS certificate: a self-signed ECDSA P-256 certificate made on
 * first launch (and again when it has expired), or the files named in the
 * config. Its SHA-256 fingerprint is what clients pin on first use.
 *
 * @module
 */

import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { BadRequest } from "../errors.ts";
import { writeFileAtomic } from "../config/paths.ts";
import type { Logger } from "../log.ts";
import {
  basicConstraints,
  extendedKeyUsage,
  generateP256KeyPair,
  keyUsage,
  subjectAltName,
  writeCertificate,
} from "./certificate_writer.ts";
import { pemEncode } from "./pem.ts";

/** PEM certificate chain and private key, as Deno.serve takes them. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 of the leaf certificate's DER, as colon-separated upper-case hex. */
  fingerprint: string;
  /** When the leaf certificate expires. */
  notAfter: Date;
  /** True when postern generated the certificate itself. */
  selfSigned: boolean;
}

/** How long a generated certificate is valid. */
const SELF_SIGNED_VALIDITY_DAYS = 365;

/** SHA-256 fingerprint of a PEM certificate, "AB:CD:...". */
export function certificateFingerprint(pem: string): string {
  const der = new X509Certificate(pem).raw;
  return createHash("sha256").update(der).digest("hex").toUpperCase().match(/../g)!.join(":");
}

/** Generates a self-signed ECDSA P-256 certificate for the given DNS names and IPs. */
export async function generateSelfSigned(
  names: { dns: string[]; ips: string[] },
  now = new Date(),
): Promise<{ cert: string; key: string }> {
  const keys = await generateP256KeyPair();
  const cert = await writeCertificate({
    subject: [
      { type: "CN", value: names.dns[0] ?? "postern" },
      { type: "O", value: "postern self-signed" },
    ],
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + SELF_SIGNED_VALIDITY_DAYS * 86_400_000),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [
      basicConstraints({ ca: false }),
      keyUsage(["digitalSignature"]),
      extendedKeyUsage(["serverAuth"]),
      subjectAltName(names),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { cert, key: pemEncode(pkcs8, "PRIVATE KEY") };
}

function describe(cert: string, key: string, selfSigned: boolean): TlsMaterial {
  const parsed = new X509Certificate(cert);
  return {
    cert,
    key,
    fingerprint: certificateFingerprint(cert),
    notAfter: new Date(parsed.validTo),
    selfSigned,
  };
}

/** Names the self-signed certificate covers. */
export function certificateNames(publicHost: string): { dns: string[]; ips: string[] } {
  const isIp = /^[\d.]+$|:/.test(publicHost);
  const dns = [Deno.hostname(), "localhost"];
  const ips = ["127.0.0.1", "::1"];
  (isIp ? ips : dns).push(publicHost);
  return { dns, ips };
}

/**
 * Loads the configured certificate files, or the self-signed one from
 * `<dataDir>/tls`, generating it when absent or expired.
 */
export async function loadTlsMaterial(options: {
  dataDir: string;
  certFile?: string;
  keyFile?: string;
  publicHost: string;
  log: Logger;
  now?: Date;
}): Promise<TlsMaterial> {
  if (options.certFile && options.keyFile) {
    return loadConfigured(options.certFile, options.keyFile);
  }
  const dir = join(options.dataDir, "tls");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const now = options.now ?? new Date();
  const existing = await readPair(certPath, keyPath);
  if (existing) {
    const material = describe(existing.cert, existing.key, true);
    if (material.notAfter > now) return material;
    options.log.warn("self-signed HTTPS certificate expired; generating a new one", {
      expired: material.notAfter.toISOString(),
    });
  }
  const generated = await generateSelfSigned(certificateNames(options.publicHost), now);
  await writeFileAtomic(keyPath, generated.key, 0o600);
  await writeFileAtomic(certPath, generated.cert, 0o644);
  options.log.info("generated self-signed HTTPS certificate", { path: certPath });
  return describe(generated.cert, generated.key, true);
}

async function readPair(certPath: string, keyPath: string) {
  try {
    return { cert: await Deno.readTextFile(certPath), key: await Deno.readTextFile(keyPath) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function loadConfigured(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const read = async (field: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
      throw new BadRequest(`${field}: cannot read "${path}": ${reason}`);
    }
  };
  const cert = await read("tls.cert_file", certFile);
  const key = await read("tls.key_file", keyFile);
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch {
    throw new BadRequest(`tls.cert_file: "${certFile}" is not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new BadRequest(`tls.key_file: "${keyFile}" is not a PEM private key`);
  }
  if (!parsed.checkPrivateKey(privateKey)) {
    throw new BadRequest(
      `tls.key_file: "${keyFile}" does not match the certificate in "${certFile}"`,
    );
  }
  return describe(cert, key, false);
}
