/**
 * Who may use the SSH gateway: holders of a valid postern user certificate.
 * The CA signature, type, validity window (with a minute of clock skew), the
 * requested login among the principals, critical options, and finally the
 * signature over the session with the certified key are all checked; the
 * user must still exist in auth. Everything else is refused with a banner
 * that says to run `postern login`.
 *
 * @module
 */

import type { AuthContext } from "ssh2";
import type { AuthService, Identity, UserProof } from "../../auth/service.ts";
import {
  type Certificate,
  decodeCertificate,
  encodeBase64,
  verifyCertificate,
  verifyCertificateKeySignature,
} from "../../sshcert/mod.ts";
import { PosternError } from "../../errors.ts";

/** Seconds of clock difference tolerated on certificate validity. */
const CLOCK_SKEW_S = 60;

/** The SSH user name split into the node login and, for terminated sessions, the node. */
export interface LoginTarget {
  login: string;
  /** Set for `login:node` user names (proxy-terminated sessions). */
  node: string | null;
}

/** Parses `root` or `root:saturn`. */
export function parseUsername(username: string): LoginTarget {
  const colon = username.indexOf(":");
  if (colon < 0) return { login: username, node: null };
  return { login: username.slice(0, colon), node: username.slice(colon + 1) || null };
}

/** A successful authentication. */
export interface Authenticated {
  identity: Identity;
  /** The certificate the user proved they hold, passed on to auth for every call made for them. */
  proof: UserProof;
  target: LoginTarget;
  certificate: Certificate;
  /** When the user's certificate expires; minted node certificates never outlive it. */
  validBefore: Date;
}

/** The outcome of one userauth request. */
export type AuthDecision =
  | { kind: "accept"; result?: Authenticated }
  | { kind: "reject"; message?: string };

const RELOGIN = "run `postern login` to get a new certificate";

/** Decides one userauth request. */
export async function decideAuth(
  ctx: AuthContext,
  auth: AuthService,
  remoteIp: string,
  now = new Date(),
): Promise<AuthDecision> {
  if (ctx.method === "none") return { kind: "reject" };
  if (ctx.method !== "publickey") {
    return { kind: "reject", message: `postern accepts only postern certificates: ${RELOGIN}.` };
  }
  const key = (ctx as unknown as { key?: { algo: string; data: Uint8Array } }).key;
  if (!key || !key.algo.endsWith("-cert-v01@openssh.com")) {
    return { kind: "reject", message: `postern accepts only postern certificates: ${RELOGIN}.` };
  }
  let certificate: Certificate;
  try {
    certificate = decodeCertificate(new Uint8Array(key.data));
  } catch (error) {
    return {
      kind: "reject",
      message: `Cannot read the certificate (${(error as Error).message}); ${RELOGIN}.`,
    };
  }
  const target = parseUsername(ctx.username);
  const verdict = verifyCertificate(certificate, {
    trustedCAs: auth.userCaKeys(),
    type: "user",
    principal: target.login,
    now,
    clockSkewSeconds: CLOCK_SKEW_S,
    clientAddress: remoteIp,
  });
  if (!verdict.ok) {
    const advice = verdict.reason === "principal_not_allowed"
      ? "log in with one of the allowed logins"
      : RELOGIN;
    return { kind: "reject", message: `${verdict.message}. To fix: ${advice}.` };
  }
  const pk = ctx as unknown as { signature?: Uint8Array; blob?: Uint8Array };
  if (!pk.signature || !pk.blob) return { kind: "accept" }; // "would this key do?" query
  const signed = verifyCertificateKeySignature(
    certificate,
    new Uint8Array(pk.blob),
    new Uint8Array(pk.signature),
    { algorithm: key.algo },
  );
  if (!signed) return { kind: "reject", message: "The certificate's signature did not verify." };
  const proof: UserProof = { kind: "certificate", certificate: encodeBase64(key.data) };
  let identity: Identity;
  try {
    identity = await auth.identityOf(proof);
  } catch (error) {
    const message = error instanceof PosternError ? error.message : "Cannot look up your user.";
    return { kind: "reject", message };
  }
  return {
    kind: "accept",
    result: {
      identity,
      proof,
      target,
      certificate,
      validBefore: new Date(Math.min(Number(certificate.validBefore) * 1000, 8.64e15)),
    },
  };
}
