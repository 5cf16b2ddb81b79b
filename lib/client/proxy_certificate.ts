/**
 * The proxy's HTTPS certificate as presented, whether trusted or not: fetched
 * to show its fingerprint at first login and to explain a verification
 * failure. Apart from proxy_client.ts, which loads it only on such a failure,
 * since node:tls and node:crypto cost each CLI command ~15 ms to load.
 *
 * @module
 */

import tls from "node:tls";
import { createHash, X509Certificate } from "node:crypto";
import { Unavailable } from "../errors.ts";

/** SHA-256 fingerprint of a PEM certificate, colon hex. */
export function fingerprintOf(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).raw).digest("hex").toUpperCase()
    .match(/../g)!.join(":");
}

/** Fetches the proxy's certificate without verifying it (to show or compare its fingerprint). */
export function peerCertificate(hostname: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const servername = /^[\d.]+$|:/.test(hostname) ? undefined : hostname;
    const socket = tls.connect(
      { host: hostname, port, rejectUnauthorized: false, servername },
      () => {
        const raw = socket.getPeerCertificate(true)?.raw;
        socket.end();
        if (!raw) {
          return reject(new Unavailable(`Cannot read the certificate of ${hostname}:${port}.`));
        }
        const b64 = Buffer.from(raw).toString("base64").match(/.{1,64}/g)!.join("\n");
        resolve(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
      },
    );
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Unavailable(`Cannot reach the proxy at ${hostname}:${port}: timed out.`));
    });
    socket.on(
      "error",
      (error: Error) =>
        reject(new Unavailable(`Cannot reach the proxy at ${hostname}:${port}: ${error.message}.`)),
    );
  });
}
