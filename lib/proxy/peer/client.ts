/**
 * Joining a session another proxy runs: this proxy dials the owner's peer
 * listener over mutual TLS with both proxies' cluster identities, sends the
 * joiner's proof, and keeps a mirror of the session ({@link RemoteSession})
 * that the web terminal or SSH join attaches to exactly as to a local one.
 *
 * @module
 */

import tls from "node:tls";
import type { UserProof } from "../../auth/service.ts";
import type { ApiIdentity } from "../../auth/api/client.ts";
import { errorFromWire, type WireError } from "../../auth/api/wire.ts";
import { Unavailable } from "../../errors.ts";
import { parseHostPort } from "../../config/schema.ts";
import {
  LiveSession,
  type LiveSessionInfo,
  type PartyMode,
  type SessionEvent,
} from "../../session/hub.ts";
import { encodeFrame, Frame, FrameReader, jsonOf } from "./frames.ts";

/** How long the owning proxy may take to accept or refuse a join. */
const JOIN_TIMEOUT_MS = 10_000;

type Parties = LiveSessionInfo["parties"];

/** A session running on another proxy, seen through one peer link. */
export class RemoteSession extends LiveSession {
  #parties: Parties;

  constructor(
    info: Omit<LiveSessionInfo, "parties">,
    parties: Parties,
    private readonly link: tls.TLSSocket,
  ) {
    super(info, {
      input: (data) => void link.write(encodeFrame(Frame.DATA, data)),
      resize: () => {}, // only the owner sizes the terminal
    });
    this.#parties = parties;
  }

  /** The parties on the owning proxy (remote joiners included). */
  override describe(): LiveSessionInfo {
    return { ...super.describe(), parties: this.#parties };
  }

  /** Applies an event frame from the owning proxy. */
  apply(event: SessionEvent, parties: Parties): void {
    this.#parties = parties;
    this.relay(event);
  }

  /** The joiner left: the link closes with it. */
  override leave(partyId: string, reason?: string): void {
    super.leave(partyId, reason);
    if (this.parties.size === 0) this.link.end();
  }
}

/** Options of {@linkcode joinRemoteSession}. */
export interface RemoteJoin {
  /** `host:port` of the owning proxy's peer listener. */
  peerAddr: string;
  /** The owning proxy's id: its certificate must name it. */
  proxyId: string;
  /** This proxy's cluster identity. */
  identity: ApiIdentity;
  sessionId: string;
  mode: PartyMode;
  proof: UserProof;
  /** This proxy's id, for the owner's audit. */
  via: string;
}

/**
 * Joins a session on another proxy. Resolves once the owner accepted (the
 * mirror then receives the scrollback and everything after); rejects with the
 * owner's refusal (AccessDenied, NotFound, ...) or Unavailable.
 */
export function joinRemoteSession(options: RemoteJoin): Promise<RemoteSession> {
  const addr = parseHostPort(options.peerAddr);
  if (!addr) {
    return Promise.reject(new Unavailable(`Proxy "${options.proxyId}" has no peer address.`));
  }
  return new Promise((resolve, reject) => {
    const unreachable = (why: string) =>
      new Unavailable(
        `Cannot reach proxy "${options.proxyId}", which runs the session (${why}); try again.`,
      );
    const link = tls.connect({
      host: addr.hostname,
      port: addr.port,
      ca: options.identity.ca,
      cert: options.identity.cert,
      key: options.identity.key,
      // Proxies are known by their identity, not by a host name.
      checkServerIdentity: (_host, cert) =>
        cert.subject?.O === "proxy" && cert.subject?.CN === options.proxyId
          ? undefined
          : new Error(`the peer is not proxy "${options.proxyId}"`),
    });
    let session: RemoteSession | undefined;
    const timer = setTimeout(() => link.destroy(new Error("no answer")), JOIN_TIMEOUT_MS);
    const reader = new FrameReader();
    link.on("secureConnect", () => {
      link.write(encodeFrame(Frame.JOIN, {
        sessionId: options.sessionId,
        mode: options.mode,
        proof: options.proof,
        via: options.via,
      }));
    });
    link.on("data", (chunk: Uint8Array) => {
      let frames;
      try {
        frames = reader.push(new Uint8Array(chunk));
      } catch (error) {
        return link.destroy(error as Error);
      }
      for (const { type, payload } of frames) {
        if (!session) {
          clearTimeout(timer);
          if (type === Frame.HELLO) {
            const hello = jsonOf<{ info: Omit<LiveSessionInfo, "parties">; parties: Parties }>(
              payload,
            );
            session = new RemoteSession(
              { ...hello.info, started: new Date(hello.info.started) },
              hello.parties,
              link,
            );
            resolve(session);
          } else if (type === Frame.ERROR) {
            reject(errorFromWire(jsonOf<WireError>(payload)));
            link.end();
          }
          continue;
        }
        if (type === Frame.DATA) session.output(payload);
        else if (type === Frame.EVENT) {
          const { event, parties } = jsonOf<{ event: SessionEvent; parties: Parties }>(payload);
          session.apply(event, parties);
        } else if (type === Frame.CLOSE) {
          session.end(null, jsonOf<{ reason: string }>(payload).reason);
        }
      }
    });
    link.on("error", (error) => {
      clearTimeout(timer);
      if (!session) reject(unreachable(error.message));
    });
    link.on("close", () => {
      clearTimeout(timer);
      if (!session) reject(unreachable("the connection closed"));
      else session.end(null, `The connection to proxy "${options.proxyId}" was lost.`);
    });
  });
}
