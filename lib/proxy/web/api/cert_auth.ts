/**
 * Authentication of CLI requests by SSH certificate: `Authorization:
 * PosternCert <cert>.<timestamp>.<signature>` where the signature, made with
 * the certified key, covers `postern-api`, the method, the path with query
 * and the timestamp. Accepted for read-only (GET) requests within two
 * minutes of the timestamp, so a captured header is useless elsewhere and
 * soon.
 *
 * @module
 */

import type { ActiveWebSession, AuthService } from "../../../auth/service.ts";
import { Unauthenticated } from "../../../errors.ts";
import {
  decodeBase64,
  decodeCertificate,
  verifyCertificate,
  verifySignature,
} from "../../../sshcert/mod.ts";

/** How far the request's timestamp may be from now. */
const MAX_CLOCK_DIFFERENCE_S = 120;

/** Verifies a PosternCert authorization header; returns a read-only session view. */
export async function certRequestSession(
  auth: AuthService,
  header: string,
  method: string,
  pathWithQuery: string,
): Promise<ActiveWebSession> {
  const fail = (why: string) =>
    new Unauthenticated(`Certificate authentication failed: ${why}; run postern login.`);
  const [certB64, timestamp, signatureB64] = header.slice("PosternCert ".length).split(".");
  if (!certB64 || !timestamp || !signatureB64 || !/^\d{1,12}$/.test(timestamp)) {
    throw fail("malformed header");
  }
  const now = Date.now();
  if (Math.abs(now / 1000 - Number(timestamp)) > MAX_CLOCK_DIFFERENCE_S) {
    throw fail("the request's time is too far from the proxy's clock");
  }
  let certificate;
  try {
    certificate = decodeCertificate(decodeBase64(certB64, "certificate"));
  } catch {
    throw fail("unreadable certificate");
  }
  const verdict = verifyCertificate(certificate, {
    trustedCAs: auth.userCaKeys(),
    type: "user",
    now: new Date(now),
    clockSkewSeconds: 60,
  });
  if (!verdict.ok) throw new Unauthenticated(`${verdict.message}; run postern login.`);
  const data = new TextEncoder().encode(`postern-api\n${method}\n${pathWithQuery}\n${timestamp}`);
  let signature: Uint8Array;
  try {
    signature = decodeBase64(signatureB64, "signature");
  } catch {
    throw fail("unreadable signature");
  }
  if (!verifySignature(certificate.publicKey, data, signature)) throw fail("bad signature");
  const identity = await auth.identityOf(certificate.keyId);
  return {
    identity,
    handle: "certificate",
    expires: new Date(Math.min(Number(certificate.validBefore) * 1000, 8.64e15)),
    csrfToken: "",
    checkCsrf: () => false,
  };
}
