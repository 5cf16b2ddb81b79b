/**
 * Authentication of CLI requests by SSH certificate: `Authorization:
 * PosternCert <cert>.<timestamp>.<nonce>.<signature>` where the signature,
 * made with the certified key, covers `postern-api`, the method, the path
 * with query, the timestamp and the nonce. Accepted within two minutes of the
 * timestamp and once only: a captured header is useless elsewhere, later, and
 * again, on any proxy (auth's store remembers the nonces for that window).
 *
 * @module
 */

import type { AuthService, UserProof } from "../../../auth/service.ts";
import type { ActiveWebSession } from "./guard.ts";
import { Unauthenticated } from "../../../errors.ts";
import { CERT_AUTH_PREFIX, certRequestData } from "../../../net/cert_request.ts";
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
  const [certB64, timestamp, nonce, signatureB64, extra] = header
    .slice(CERT_AUTH_PREFIX.length)
    .split(".");
  if (
    !certB64 || !timestamp || !nonce || !signatureB64 || extra !== undefined ||
    !/^\d{1,12}$/.test(timestamp) || !/^[A-Za-z0-9+/=]{16,64}$/.test(nonce)
  ) {
    throw fail("malformed header (is your postern older than the proxy?)");
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
  const data = certRequestData(method, pathWithQuery, timestamp, nonce);
  let signature: Uint8Array;
  try {
    signature = decodeBase64(signatureB64, "signature");
  } catch {
    throw fail("unreadable signature");
  }
  if (!verifySignature(certificate.publicKey, data, signature)) throw fail("bad signature");
  const windowEnd = (Number(timestamp) + MAX_CLOCK_DIFFERENCE_S) * 1000;
  if (!(await auth.useRequestNonce(nonce, windowEnd))) {
    throw fail("this signed request was used already");
  }
  const proof: UserProof = { kind: "certificate", certificate: certB64 };
  const identity = await auth.identityOf(proof);
  return {
    identity,
    proof,
    handle: "certificate",
    expires: new Date(Math.min(Number(certificate.validBefore) * 1000, 8.64e15)),
    csrfToken: "",
    checkCsrf: () => false,
  };
}
