/**
 * The ssh-agent auth serves to proxies for a web session: it lists the
 * session's certificate and signs with the session's key, so the proxy can
 * log in to nodes for the web terminal while the private key stays in auth.
 * One request, one answer (PROTOCOL.agent message bodies).
 *
 * @module
 */

import {
  AgentMessage,
  failure,
  identitiesAnswer,
  readSignRequest,
  signResponse,
} from "../sshagent/protocol.ts";
import {
  bytesEqual,
  parseCertificateLine,
  parseOpenSshPrivateKey,
  signData,
  SshReader,
} from "../sshcert/mod.ts";
import { BadRequest } from "../errors.ts";
import type { WebSessionRecord } from "../store/store.ts";

/**
 * Answers one agent request for `session`: REQUEST_IDENTITIES lists the
 * session certificate; SIGN_REQUEST for that certificate is signed; anything
 * else gets SSH_AGENT_FAILURE.
 *
 * @throws BadRequest when the request does not parse
 */
export function answerWebSessionAgent(
  session: Pick<WebSessionRecord, "cert" | "privateKey" | "user">,
  request: Uint8Array,
): Uint8Array {
  const certificateBlob = parseCertificateLine(session.cert).blob;
  try {
    const reader = new SshReader(request, "agent request");
    switch (reader.u8()) {
      case AgentMessage.REQUEST_IDENTITIES:
        reader.end();
        return identitiesAnswer([{ blob: certificateBlob, comment: session.user }]);
      case AgentMessage.SIGN_REQUEST: {
        const { keyBlob, data } = readSignRequest(reader);
        if (!bytesEqual(keyBlob, certificateBlob)) return failure();
        const key = parseOpenSshPrivateKey(session.privateKey).privateKey;
        return signResponse(signData(key, data));
      }
      default:
        return failure();
    }
  } catch (error) {
    throw new BadRequest(`Malformed agent request: ${(error as Error).message}`);
  }
}
