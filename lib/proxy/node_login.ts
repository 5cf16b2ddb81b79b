/**
 * The credentials the proxy logs in to a node with, for a user who proved
 * who they are. Gateway sessions: the proxy makes a key for the one login and
 * auth certifies only its public key. Web terminals: auth's agent for the web
 * session lists the session's certificate and signs; that key never leaves auth.
 *
 * @module
 */

import type { AuthService, NodeLoginCredentials, UserProof } from "../auth/service.ts";
import { Unavailable } from "../errors.ts";
import {
  parseIdentitiesAnswer,
  parseSignResponse,
  requestIdentities,
  signRequest,
} from "../sshagent/protocol.ts";
import {
  encodeBase64,
  formatPublicKeyLine,
  generateEd25519KeyPair,
  parseSignature,
  signData,
} from "../sshcert/mod.ts";

const CERT_ALGO = "ssh-ed25519-cert-v01@openssh.com";

/** A fresh key certified by auth for `login`, valid until `notAfter` at most. */
export async function nodeLoginCredentials(
  auth: AuthService,
  proof: UserProof,
  login: string,
  notAfter: Date,
): Promise<NodeLoginCredentials> {
  const pair = generateEd25519KeyPair();
  const certificate = await auth.signNodeLogin(
    proof,
    login,
    formatPublicKeyLine(pair.publicKey),
    notAfter,
  );
  return {
    certificate,
    signer: (data) => parseSignature(signData(pair.privateKey, data)).bytes,
  };
}

/** The web session's certificate, with signatures made by auth's agent for it. */
export async function webSessionCredentials(
  auth: AuthService,
  sessionId: string,
): Promise<NodeLoginCredentials> {
  const [identity] = parseIdentitiesAnswer(
    await auth.webSessionAgent(sessionId, requestIdentities()),
  );
  if (!identity) throw new Unavailable("Auth holds no key for this web session; sign in again.");
  return {
    certificate: `${CERT_ALGO} ${encodeBase64(identity.blob)}`,
    signer: async (data) =>
      parseSignResponse(await auth.webSessionAgent(sessionId, signRequest(identity.blob, data))),
  };
}
