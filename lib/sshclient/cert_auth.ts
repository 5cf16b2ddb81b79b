/**
 * OpenSSH-certificate login for ssh2's Client (ssh2 1.17.0, pinned in deno.json).
 *
 * Why this exists: a node accepts a user certificate only when the
 * SSH_MSG_USERAUTH_REQUEST names the certificate's algorithm and blob
 * (`ssh-ed25519-cert-v01@openssh.com` + cert blob) while the signature blob inside
 * names the plain key algorithm (`ssh-ed25519`). ssh2 writes one algorithm name in
 * both places and cannot load certificates, so it cannot log in with one.
 *
 * How: {@link certAuthKey} builds a key object that ssh2 treats as an already
 * parsed private key (it inherits from ssh2's parsed public key, so ssh2's
 * `parseKey()` returns it unchanged) and carries the certificate and a signer
 * under a private symbol. {@link installCertAuth} wraps
 * `Protocol.prototype.authPK` once: for such keys it writes the request itself —
 * the unsigned "check" first, then, after USERAUTH_PK_OK, the signed one — with
 * `this._packetRW.write.alloc/allocStart/finalize`, queues `"publickey"` on
 * `this._authsQueue` and sends with `sendPacket` from ssh2's protocol utils,
 * exactly like the original. Every other key goes to the original `authPK`.
 * Signing may be asynchronous (an agent), so the private key need not live in
 * the proxy. Guarded by tests/integration/sshclient_test.ts against a real sshd.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, KeyObject, sign as cryptoSign } from "node:crypto";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
// ssh2 internals (no type declarations); the version is pinned, see the module doc.
import { ssh2ProtocolClass as Protocol, ssh2SendPacket } from "../net/ssh2_internals.ts";
import { BadRequest } from "../errors.ts";

/** The certificate algorithm this module logs in with. */
export const ED25519_CERT_ALGO = "ssh-ed25519-cert-v01@openssh.com";
const ED25519 = "ssh-ed25519";
const USERAUTH_REQUEST = 50;

/**
 * Signs `data` with the ed25519 key the certificate certifies and returns the raw
 * 64-byte signature, like an ssh-agent would (without the SSH signature framing).
 */
export type Signer = (data: Uint8Array) => Promise<Uint8Array> | Uint8Array;

/** What the authPK override needs, kept on the key object under a private symbol. */
interface CertAuth {
  /** The certificate blob (decoded base64 of the certificate line). */
  blob: Uint8Array;
  sign: Signer;
  /** Called when signing fails; the connection cannot go on. */
  onError: (error: Error) => void;
}

const CERT_AUTH = Symbol("postern.certAuth");

/** Options of {@link certAuthKey}. */
export interface CertAuthKeyOptions {
  /** The certificate line, `ssh-ed25519-cert-v01@openssh.com AAAA... [comment]`. */
  certificate: string;
  /** The private key: an ed25519 `KeyObject`, or OpenSSH / PKCS#8 PEM text. */
  privateKey?: KeyObject | string;
  /** Or a signer that holds the key elsewhere (agent style). */
  signer?: Signer;
  /** Called when the signer fails (throws or rejects). */
  onError?: (error: Error) => void;
}

/**
 * Builds the key to give ssh2 as `authHandler: [{ type: "publickey", username, key }]`
 * so that it logs in with `certificate`. Needs {@link installCertAuth} (called here).
 *
 * @param options certificate, and a private key or a signer
 * @returns an object ssh2 takes for a parsed private key
 * @throws BadRequest when the certificate is not an ed25519 user certificate line,
 *   when neither or both of privateKey and signer are given, or when the private
 *   key is not the key the certificate certifies
 * @example
 * ```ts
 * const key = certAuthKey({ certificate: certLine, privateKey: pem });
 * client.connect({ sock, username: "root", authHandler: [{ type: "publickey", username: "root", key }] });
 * ```
 */
export function certAuthKey(options: CertAuthKeyOptions): ssh2.ParsedKey {
  installCertAuth();
  const { blob, publicKey } = parseCertificateLine(options.certificate);
  if ((options.privateKey === undefined) === (options.signer === undefined)) {
    throw new BadRequest("Cannot log in with a certificate: give either privateKey or signer");
  }
  const sign = options.signer ?? signerFor(options.privateKey!, publicKey);
  const parsed = ssh2.utils.parseKey(publicKeyLine(publicKey));
  if (parsed instanceof Error) {
    throw new BadRequest(`Cannot use certificate: ${parsed.message}`, { cause: parsed });
  }
  const auth: CertAuth = { blob, sign, onError: options.onError ?? (() => {}) };
  // ssh2 skips keys for which isPrivateKey() is false; the private half is the
  // signer's business, never ssh2's.
  return Object.create(parsed, {
    isPrivateKey: { value: () => true },
    [CERT_AUTH]: { value: auth },
  });
}

/** A decoded certificate line: its blob and the ed25519 key it certifies. */
interface CertificateParts {
  blob: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * Reads the certificate line far enough to log in with it: the blob and the
 * certified public key. Checking the certificate is the node's job.
 */
function parseCertificateLine(line: string): CertificateParts {
  const [algo, b64] = line.trim().split(/\s+/);
  if (algo !== ED25519_CERT_ALGO || !b64) {
    throw new BadRequest(
      `Cannot use certificate: expected a "${ED25519_CERT_ALGO} AAAA..." line, got "${
        (algo ?? "").slice(0, 40)
      }"`,
    );
  }
  const blob = new Uint8Array(Buffer.from(b64, "base64"));
  // string type, string nonce, string pk (RFC: PROTOCOL.certkeys).
  let offset = 0;
  const readString = (): Uint8Array => {
    if (offset + 4 > blob.length) throw new BadRequest("Cannot use certificate: truncated");
    const len = new DataView(blob.buffer, blob.byteOffset).getUint32(offset);
    const start = offset + 4;
    if (start + len > blob.length) throw new BadRequest("Cannot use certificate: truncated");
    offset = start + len;
    return blob.subarray(start, start + len);
  };
  const type = new TextDecoder().decode(readString());
  if (type !== ED25519_CERT_ALGO) {
    throw new BadRequest(`Cannot use certificate: its blob says "${type.slice(0, 40)}"`);
  }
  readString();
  const publicKey = readString();
  if (publicKey.length !== 32) throw new BadRequest("Cannot use certificate: bad ed25519 key");
  return { blob, publicKey };
}

function publicKeyLine(publicKey: Uint8Array): string {
  return `${ED25519} ${Buffer.from(sshString(ED25519, publicKey)).toString("base64")}`;
}

/** A signer over a local private key, after checking it matches the certificate. */
function signerFor(privateKey: KeyObject | string, certified: Uint8Array): Signer {
  let key: KeyObject;
  try {
    key = privateKey instanceof KeyObject ? privateKey : keyObjectFromPem(privateKey);
  } catch (error) {
    throw new BadRequest("Cannot use private key: it is not an ed25519 key in a known format", {
      cause: error,
    });
  }
  if (key.type !== "private" || key.asymmetricKeyType !== "ed25519") {
    throw new BadRequest("Cannot use private key: it is not an ed25519 private key");
  }
  const jwk = createPublicKey(key).export({ format: "jwk" });
  if (!Buffer.from(jwk.x ?? "", "base64url").equals(Buffer.from(certified))) {
    throw new BadRequest(
      "Cannot log in with a certificate: it certifies a different key than the private key given",
    );
  }
  return (data) => cryptoSign(null, data, key);
}

/** OpenSSH PEM via ssh2's parser (node:crypto cannot read it), anything else via node:crypto. */
function keyObjectFromPem(pem: string): KeyObject {
  if (!pem.includes("BEGIN OPENSSH PRIVATE KEY")) return createPrivateKey(pem);
  const parsed = ssh2.utils.parseKey(pem);
  if (parsed instanceof Error) throw parsed;
  const pkcs8 = parsed.getPrivatePEM();
  return createPrivateKey(pkcs8);
}

/** Concatenates SSH wire strings: uint32 length + bytes each. */
function sshString(...parts: (string | Uint8Array)[]): Uint8Array {
  const bytes = parts.map((p) => typeof p === "string" ? new TextEncoder().encode(p) : p);
  const out = new Uint8Array(bytes.reduce((n, b) => n + 4 + b.length, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const b of bytes) {
    view.setUint32(offset, b.length);
    out.set(b, offset + 4);
    offset += 4 + b.length;
  }
  return out;
}

/**
 * The USERAUTH_REQUEST payload for publickey with a certificate (RFC 4252 §7):
 * byte 50, string user, string "ssh-connection", string "publickey",
 * boolean signed, string cert algo, string cert blob.
 */
function userauthRequest(username: string, blob: Uint8Array, signed: boolean): Uint8Array {
  const fields = sshString(username, "ssh-connection", "publickey");
  const key = sshString(ED25519_CERT_ALGO, blob);
  const out = new Uint8Array(1 + fields.length + 1 + key.length);
  out[0] = USERAUTH_REQUEST;
  out.set(fields, 1);
  out[1 + fields.length] = signed ? 1 : 0;
  out.set(key, 2 + fields.length);
  return out;
}

/** The slice of ssh2's Protocol this override touches. */
interface ProtocolInternals {
  _kex: { sessionID: Uint8Array };
  _authsQueue: string[];
  _packetRW: {
    write: {
      allocStart: number;
      alloc(size: number): Buffer;
      finalize(packet: Buffer): Buffer;
    };
  };
  _debug?: (message: string) => void;
}

type AuthPK = (
  this: ProtocolInternals,
  username: string,
  pubKey: unknown,
  keyAlgo?: unknown,
  cbSign?: unknown,
) => void;

/** Sends `payload` as one packet, as ssh2's own authPK does. */
function sendPayload(proto: ProtocolInternals, payload: Uint8Array): void {
  const writer = proto._packetRW.write;
  const packet = writer.alloc(payload.length);
  packet.set(payload, writer.allocStart);
  ssh2SendPacket(proto, writer.finalize(packet));
}

function certAuthPK(
  proto: ProtocolInternals,
  auth: CertAuth,
  username: string,
  signed: boolean,
): void {
  const request = userauthRequest(username, auth.blob, signed);
  if (!signed) {
    proto._authsQueue.push("publickey");
    proto._debug?.("Outbound: Sending USERAUTH_REQUEST (publickey cert -- check)");
    sendPayload(proto, request);
    return;
  }
  // Signed data: string session id, then the request (RFC 4252 §7).
  const sessionID = proto._kex.sessionID;
  const toSign = new Uint8Array(4 + sessionID.length + request.length);
  toSign.set(sshString(sessionID), 0);
  toSign.set(request, 4 + sessionID.length);
  Promise.resolve()
    .then(() => auth.sign(toSign))
    .then((signature) => {
      if (signature.length !== 64) {
        throw new Error("the signer did not return an ed25519 signature");
      }
      const sigBlob = sshString(ED25519, signature);
      const payload = new Uint8Array(request.length + 4 + sigBlob.length);
      payload.set(request, 0);
      payload.set(sshString(sigBlob), request.length);
      proto._authsQueue.push("publickey");
      proto._debug?.("Outbound: Sending USERAUTH_REQUEST (publickey cert)");
      sendPayload(proto, payload);
    })
    .catch((error) => auth.onError(error instanceof Error ? error : new Error(String(error))));
}

let installed = false;

/**
 * Wraps ssh2's `Protocol.prototype.authPK` so keys made by {@link certAuthKey} log
 * in with their certificate. Idempotent; other keys are untouched.
 *
 * @example
 * ```ts
 * installCertAuth();
 * ```
 */
export function installCertAuth(): void {
  if (installed) return;
  installed = true;
  const proto = Protocol.prototype as unknown as { authPK: AuthPK };
  const original = proto.authPK;
  proto.authPK = function (this: ProtocolInternals, username, pubKey, keyAlgo, cbSign) {
    const auth = (pubKey as { [CERT_AUTH]?: CertAuth } | null)?.[CERT_AUTH];
    if (auth === undefined) return original.call(this, username, pubKey, keyAlgo, cbSign);
    // ssh2 passes the sign callback third when it has no algorithm to name; its
    // presence only tells that this is the signed request. Signing is ours.
    const signed = typeof keyAlgo === "function" || typeof cbSign === "function";
    certAuthPK(this, auth, username, signed);
  };
}
