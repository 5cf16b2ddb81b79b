/**
 * `postern agent`: an ssh-agent (OpenSSH `PROTOCOL.agent`, draft-miller-ssh-agent)
 * that serves exactly one ed25519 key and its postern certificate over a unix
 * socket, so that stock `ssh`, `ssh-add -L` and anything else speaking the agent
 * protocol can use the user's certificate without reading key files.
 *
 * What it answers:
 * - REQUEST_IDENTITIES: the certificate first, then the plain public key (for
 *   clients that ignore certificates); nothing while locked.
 * - SIGN_REQUEST for either of those blobs: an SSH signature blob. The rsa-sha2
 *   flags are decoded and passed on as the RSA signature algorithm; for ed25519
 *   keys, the only kind postern issues, they change nothing.
 * - LOCK / UNLOCK with a passphrase, kept only as a salted scrypt hash and
 *   compared in constant time; failed unlocks are slowed down like ssh-agent does.
 * - Everything else (adding or removing keys, smartcards, extensions including
 *   `query` and `session-bind@openssh.com`, protocol 1 messages): SSH_AGENT_FAILURE,
 *   which OpenSSH clients report cleanly ("Failed to remove all identities.").
 *
 * A message longer than 256 KiB (OpenSSH's own limit) or one that does not parse
 * closes that client's connection; the agent keeps serving everybody else.
 *
 * @module
 */

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { BadRequest } from "../errors.ts";
import type { Logger } from "../log.ts";
import { listenPrivately } from "./agent_socket.ts";
import { writeAll } from "./io.ts";
import {
  bytesEqual,
  CertError,
  encodePublicKey,
  type KeyPair,
  parseCertificateLine,
  parseOpenSshPrivateKey,
  signData,
  type SignOptions,
  SshReader,
  SshWriter,
} from "../sshcert/mod.ts";
import {
  AgentMessage,
  failure,
  identitiesAnswer,
  readSignRequest,
  signResponse,
  success,
} from "../sshagent/protocol.ts";
import { closeQuietly } from "../net/close_quietly.ts";

/** SIGN_REQUEST flag: sign with `rsa-sha2-256` instead of `ssh-rsa` (RSA keys only). */
export const SSH_AGENT_RSA_SHA2_256 = 0x02;
/** SIGN_REQUEST flag: sign with `rsa-sha2-512` instead of `ssh-rsa` (RSA keys only). */
export const SSH_AGENT_RSA_SHA2_512 = 0x04;

/** Longest message accepted, in bytes (OpenSSH's `AGENT_MAX_LEN`). */
export const MAX_AGENT_MESSAGE_BYTES = 256 * 1024;

// Passphrase hashing for LOCK: the same scrypt cost as account passwords
// (lib/auth/password.ts; ~45 ms here), fresh salt per lock.
const LOCK_SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 256 * 2 ** 14 * 8 };
const LOCK_SALT_BYTES = 16;
const LOCK_HASH_BYTES = 32;
// Like ssh-agent: each failed unlock waits 100 ms more than the previous one, up
// to 10 s, and attempts are taken one at a time, so guessing stays slow even
// over many connections.
const UNLOCK_DELAY_STEP_MS = 100;
const UNLOCK_DELAY_MAX_STEPS = 100;

/** Options of {@link startAgent}. */
export interface AgentOptions {
  /**
   * Where to listen. Its folder is created with mode 0700 when missing; the
   * socket gets mode 0600 before anyone can connect (it is bound in a private
   * folder and then renamed into place). A stale socket left by a dead agent is
   * replaced; a live one is not.
   * @default {"<fresh 0700 temp folder postern-agent-XXXX>/agent.sock"}
   */
  socketPath?: string;
  /** The user's private key: an unencrypted ed25519 OpenSSH private key file. */
  privateKey: string;
  /** The user's certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA... comment`) for that key. */
  certificate: string;
  /**
   * Comment shown next to both identities (`ssh-add -l`).
   * @default the certificate line's comment, else the key file's, else `"postern"`
   */
  comment?: string;
  /** Where to log connection problems (never key material or passphrases). */
  log?: Logger;
}

/** A running agent returned by {@link startAgent}. */
export interface Agent extends AsyncDisposable {
  /** The socket path clients use as `SSH_AUTH_SOCK`. */
  readonly socketPath: string;
  /**
   * Stops listening, drops all client connections and removes the socket (and
   * the temp folder when the agent created it). Safe to call twice.
   */
  close(): Promise<void>;
  /** Resolves once the agent has stopped, whether by {@link Agent.close} or a listener failure. */
  readonly closed: Promise<void>;
}

/** The identities served: the certificate and the plain key, with one signer. */
interface Identities {
  readonly keyPair: KeyPair;
  readonly certificateBlob: Uint8Array;
  readonly comment: string;
}

/** Lock state: the locked state carries what is needed to check an unlock. */
type LockState =
  | { readonly state: "unlocked" }
  | { readonly state: "locked"; readonly salt: Uint8Array; readonly hash: Uint8Array };

/** Thrown inside a connection when the client sent something that does not parse. */
class MalformedMessage extends Error {}

/**
 * Starts an ssh-agent serving one key and its certificate.
 *
 * @param options key, certificate, socket path, comment, logger
 * @returns the running agent; stop it with `close()` or `await using`
 * @throws {BadRequest} when the key or certificate cannot be read, they do not
 *   belong together, or the socket path is too long
 * @throws {Conflict} when another agent already serves `socketPath` or a
 *   non-socket file is in the way
 * @example
 * ```ts
 * const agent = await startAgent({
 *   privateKey: await Deno.readTextFile(paths.privateKey),
 *   certificate: await Deno.readTextFile(paths.certificate),
 * });
 * console.log(`SSH_AUTH_SOCK=${agent.socketPath}`);
 * await agent.closed;
 * ```
 */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  const identities = loadIdentities(options);
  const placed = await listenPrivately(options.socketPath);
  const server = new AgentServer(identities, options.log);
  const connections = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  let closing = false;

  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await placed.listener.accept();
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) return;
        // EMFILE and friends: keep the agent up, try again shortly.
        options.log?.warn("agent cannot accept a connection", { error });
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      connections.add(conn);
      const handler = serveConnection(conn, server, options.log).finally(() => {
        connections.delete(conn);
        handlers.delete(handler);
      });
      handlers.add(handler);
    }
  })();

  let closingDone: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closingDone ??= (async () => {
      closing = true;
      try {
        placed.listener.close();
      } catch {
        // Closed already.
      }
      await acceptLoop;
      for (const conn of connections) closeQuietly(conn);
      await Promise.allSettled([...handlers]);
      await placed.cleanup();
    })();
    return closingDone;
  };
  // A listener that dies on its own still ends the agent and removes the socket.
  const closed = acceptLoop.then(close, close);

  return { socketPath: placed.path, close, closed, [Symbol.asyncDispose]: close };
}

function loadIdentities(options: AgentOptions): Identities {
  let keyPair: KeyPair & { comment: string };
  let cert: ReturnType<typeof parseCertificateLine>;
  try {
    keyPair = parseOpenSshPrivateKey(options.privateKey);
  } catch (error) {
    throw new BadRequest(`Cannot start agent: ${messageOf(error)}`, { cause: error });
  }
  try {
    cert = parseCertificateLine(options.certificate.trim());
  } catch (error) {
    throw new BadRequest(`Cannot start agent: ${messageOf(error)}`, { cause: error });
  }
  if (!bytesEqual(encodePublicKey(cert.certificate.publicKey), keyPair.publicKeyBlob)) {
    throw new BadRequest(
      "Cannot start agent: the certificate was issued for a different key than the private key; " +
        "run postern login again",
    );
  }
  const comment = options.comment ?? (cert.comment || keyPair.comment || "postern");
  return { keyPair, certificateBlob: cert.blob, comment };
}

function messageOf(error: unknown): string {
  return error instanceof CertError ? error.message : "unreadable input";
}

/** Reads length-prefixed messages and answers them one at a time, in order. */
async function serveConnection(
  conn: Deno.Conn,
  server: AgentServer,
  log: Logger | undefined,
): Promise<void> {
  const header = new Uint8Array(4);
  try {
    for (;;) {
      if (!await readExactly(conn, header)) return;
      const length = new DataView(header.buffer).getUint32(0);
      if (length === 0 || length > MAX_AGENT_MESSAGE_BYTES) {
        log?.debug("agent client sent a message of invalid length; closing", { length });
        return;
      }
      const message = new Uint8Array(length);
      if (!await readExactly(conn, message)) return;
      const reply = await server.handle(message);
      await writeAll(conn, frame(reply));
    }
  } catch (error) {
    if (error instanceof MalformedMessage) {
      log?.debug("agent client sent a malformed message; closing", { error });
    } else if (!isDisconnect(error)) {
      log?.warn("agent connection failed", { error });
    }
  } finally {
    closeQuietly(conn);
  }
}

function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

/** Fills `buf`; false on a clean end of stream before the first byte, throws mid-message. */
async function readExactly(conn: Deno.Conn, buf: Uint8Array): Promise<boolean> {
  let filled = 0;
  while (filled < buf.length) {
    const n = await conn.read(buf.subarray(filled));
    if (n === null) {
      if (filled === 0) return false;
      throw new MalformedMessage("connection closed in the middle of a message");
    }
    filled += n;
  }
  return true;
}

function frame(reply: Uint8Array): Uint8Array {
  return new SshWriter(reply.length + 4).string(reply).bytes().slice();
}

/** The protocol logic, independent of sockets. */
class AgentServer {
  readonly #identities: Identities;
  readonly #log: Logger | undefined;
  #lock: LockState = { state: "unlocked" };
  #failedUnlocks = 0;
  #unlockQueue: Promise<unknown> = Promise.resolve();

  constructor(identities: Identities, log: Logger | undefined) {
    this.#identities = identities;
    this.#log = log;
  }

  #isLocked(): boolean {
    return this.#lock.state === "locked";
  }

  /**
   * Answers one message (type byte + payload).
   * @throws {MalformedMessage} when it does not parse: the caller closes the connection
   */
  async handle(message: Uint8Array): Promise<Uint8Array> {
    const reader = new SshReader(message, "agent message");
    const type = reader.u8();
    switch (type) {
      case AgentMessage.REQUEST_IDENTITIES:
        parsed(() => reader.end());
        return this.#identitiesAnswer();
      case AgentMessage.SIGN_REQUEST:
        return this.#sign(reader);
      case AgentMessage.LOCK:
        return await this.#lockAgent(parsed(() => readPassphrase(reader)));
      case AgentMessage.UNLOCK:
        return await this.#unlockAgent(parsed(() => readPassphrase(reader)));
      case AgentMessage.EXTENSION: {
        const name = parsed(() => reader.cstring());
        this.#log?.debug("agent refuses an extension request", { extension: name });
        return failure();
      }
      default:
        // Adding, removing and smartcard requests, protocol 1 and unknown
        // messages: this agent only ever holds the key it was started with.
        return failure();
    }
  }

  #identitiesAnswer(): Uint8Array {
    if (this.#isLocked()) return identitiesAnswer([]);
    const { certificateBlob, keyPair, comment } = this.#identities;
    return identitiesAnswer([
      { blob: certificateBlob, comment },
      { blob: keyPair.publicKeyBlob, comment },
    ]);
  }

  #sign(reader: SshReader): Uint8Array {
    const { keyBlob, data, flags } = parsed(() => readSignRequest(reader));
    if (this.#isLocked()) return failure();
    const { certificateBlob, keyPair } = this.#identities;
    if (!bytesEqual(keyBlob, certificateBlob) && !bytesEqual(keyBlob, keyPair.publicKeyBlob)) {
      return failure();
    }
    let signature: Uint8Array;
    try {
      signature = signData(keyPair.privateKey, data, signOptionsFor(flags));
    } catch (error) {
      this.#log?.warn("agent cannot sign", { error });
      return failure();
    }
    return signResponse(signature);
  }

  async #lockAgent(passphrase: Uint8Array): Promise<Uint8Array> {
    if (this.#isLocked()) {
      passphrase.fill(0);
      return failure();
    }
    const salt = new Uint8Array(randomBytes(LOCK_SALT_BYTES));
    const hash = await hashPassphrase(passphrase, salt);
    passphrase.fill(0);
    // Checked again after the await: another connection may have locked meanwhile.
    if (this.#isLocked()) return failure();
    this.#lock = { state: "locked", salt, hash };
    return success();
  }

  #unlockAgent(passphrase: Uint8Array): Promise<Uint8Array> {
    const attempt = this.#unlockQueue.then(async () => {
      const lock = this.#lock;
      if (lock.state !== "locked") return failure();
      const hash = await hashPassphrase(passphrase, lock.salt);
      if (this.#lock === lock && timingSafeEqual(hash, lock.hash)) {
        this.#lock = { state: "unlocked" };
        this.#failedUnlocks = 0;
        return success();
      }
      this.#failedUnlocks = Math.min(this.#failedUnlocks + 1, UNLOCK_DELAY_MAX_STEPS);
      await new Promise((resolve) =>
        setTimeout(resolve, UNLOCK_DELAY_STEP_MS * this.#failedUnlocks)
      );
      return failure();
    }).finally(() => passphrase.fill(0));
    this.#unlockQueue = attempt.catch(() => {});
    return attempt;
  }
}

/** Runs a parsing step, turning wire-format errors into {@link MalformedMessage}. */
function parsed<T>(step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof CertError) throw new MalformedMessage(error.message);
    throw error;
  }
}

/** LOCK and UNLOCK carry the passphrase as one string; returns a copy the caller wipes. */
function readPassphrase(reader: SshReader): Uint8Array {
  const passphrase = reader.string().slice();
  reader.end();
  return passphrase;
}

/**
 * The signature algorithm a SIGN_REQUEST's flags ask for. OpenSSH sets these
 * flags only for RSA keys; `signData` ignores the choice for other key types.
 * An RSA request without either flag means legacy `ssh-rsa` (SHA-1), which
 * postern does not produce: it answers with rsa-sha2-512 instead, and the
 * verifier decides.
 */
function signOptionsFor(flags: number): SignOptions {
  if ((flags & SSH_AGENT_RSA_SHA2_256) !== 0) return { rsaAlgorithm: "rsa-sha2-256" };
  if ((flags & SSH_AGENT_RSA_SHA2_512) !== 0) return { rsaAlgorithm: "rsa-sha2-512" };
  return {};
}

function hashPassphrase(passphrase: Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, LOCK_HASH_BYTES, LOCK_SCRYPT, (error, key) => {
      if (error) reject(error);
      else resolve(new Uint8Array(key));
    });
  });
}
