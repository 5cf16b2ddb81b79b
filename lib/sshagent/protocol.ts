/**
 * The OpenSSH agent protocol (PROTOCOL.agent / draft-miller-ssh-agent): the
 * message numbers, and the few messages a single-key agent and its client
 * exchange. `postern agent` (lib/client/agent.ts) serves it over a Unix
 * socket; auth serves it to proxies for web sessions, whose keys never leave
 * auth (lib/auth/web_session_agent.ts, lib/proxy/web_session_signer.ts).
 *
 * @module
 */

import { parseSignature, SshReader, SshWriter } from "../sshcert/mod.ts";

/** Message numbers of the agent protocol that postern reads or writes. */
export const AgentMessage = Object.freeze({
  FAILURE: 5,
  SUCCESS: 6,
  REQUEST_IDENTITIES: 11,
  IDENTITIES_ANSWER: 12,
  SIGN_REQUEST: 13,
  SIGN_RESPONSE: 14,
  ADD_IDENTITY: 17,
  REMOVE_IDENTITY: 18,
  REMOVE_ALL_IDENTITIES: 19,
  ADD_SMARTCARD_KEY: 20,
  REMOVE_SMARTCARD_KEY: 21,
  LOCK: 22,
  UNLOCK: 23,
  ADD_ID_CONSTRAINED: 25,
  ADD_SMARTCARD_KEY_CONSTRAINED: 26,
  EXTENSION: 27,
});

/** One key an agent lists. */
export interface AgentIdentity {
  /** The public key or certificate blob. */
  blob: Uint8Array;
  comment: string;
}

/** SSH_AGENTC_REQUEST_IDENTITIES. */
export function requestIdentities(): Uint8Array {
  return Uint8Array.of(AgentMessage.REQUEST_IDENTITIES);
}

/** SSH_AGENT_IDENTITIES_ANSWER for `identities`. */
export function identitiesAnswer(identities: AgentIdentity[]): Uint8Array {
  const writer = new SshWriter(512).u8(AgentMessage.IDENTITIES_ANSWER).u32(identities.length);
  for (const { blob, comment } of identities) writer.string(blob).string(comment);
  return writer.bytes().slice();
}

/** Reads an IDENTITIES_ANSWER; throws CertError when malformed, an Error on FAILURE. */
export function parseIdentitiesAnswer(message: Uint8Array): AgentIdentity[] {
  const reader = new SshReader(message, "agent answer");
  expectType(reader.u8(), AgentMessage.IDENTITIES_ANSWER);
  const count = reader.u32();
  const identities: AgentIdentity[] = [];
  for (let i = 0; i < count; i++) {
    identities.push({ blob: reader.string().slice(), comment: reader.cstring() });
  }
  reader.end();
  return identities;
}

/** SSH_AGENTC_SIGN_REQUEST for `data` with the key or certificate `keyBlob`. */
export function signRequest(keyBlob: Uint8Array, data: Uint8Array, flags = 0): Uint8Array {
  return new SshWriter(keyBlob.length + data.length + 32)
    .u8(AgentMessage.SIGN_REQUEST).string(keyBlob).string(data).u32(flags).bytes().slice();
}

/** A SIGN_REQUEST's fields. */
export interface SignRequest {
  keyBlob: Uint8Array;
  data: Uint8Array;
  flags: number;
}

/** Reads a SIGN_REQUEST's payload (after the type byte). */
export function readSignRequest(reader: SshReader): SignRequest {
  const keyBlob = reader.string();
  const data = reader.string();
  const flags = reader.u32();
  reader.end();
  return { keyBlob, data, flags };
}

/** SSH_AGENT_SIGN_RESPONSE carrying an SSH signature blob. */
export function signResponse(signatureBlob: Uint8Array): Uint8Array {
  return new SshWriter(signatureBlob.length + 16).u8(AgentMessage.SIGN_RESPONSE)
    .string(signatureBlob).bytes().slice();
}

/** Reads a SIGN_RESPONSE and returns the raw signature (without the SSH framing). */
export function parseSignResponse(message: Uint8Array): Uint8Array {
  const reader = new SshReader(message, "agent answer");
  expectType(reader.u8(), AgentMessage.SIGN_RESPONSE);
  const blob = reader.string();
  reader.end();
  return parseSignature(blob).bytes;
}

/** SSH_AGENT_FAILURE. */
export function failure(): Uint8Array {
  return Uint8Array.of(AgentMessage.FAILURE);
}

/** SSH_AGENT_SUCCESS. */
export function success(): Uint8Array {
  return Uint8Array.of(AgentMessage.SUCCESS);
}

function expectType(found: number, expected: number): void {
  if (found === AgentMessage.FAILURE) throw new Error("the agent refused the request");
  if (found !== expected) {
    throw new Error(`the agent answered message ${found} where ${expected} was expected`);
  }
}
