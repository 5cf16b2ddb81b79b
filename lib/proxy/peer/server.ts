/**
 * The peer listener: other proxies of the cluster join this proxy's live
 * sessions through it, over mutual TLS with cluster identities. Each link is
 * one joiner: this proxy checks the joiner's proof with auth exactly as for a
 * local join, adds a party whose output goes down the link (a joiner that
 * cannot keep up is disconnected, as locally), and takes a peer's input back.
 *
 * @module
 */

import tls from "node:tls";
import type { UserProof } from "../../auth/service.ts";
import type { ApiIdentity } from "../../auth/api/client.ts";
import { errorToWire } from "../../auth/api/wire.ts";
import type { Logger } from "../../log.ts";
import type { LiveSession, PartySink } from "../../session/hub.ts";
import type { NodeSessionDeps } from "../node_session.ts";
import { authorizeJoin } from "../session_lookup.ts";
import { encodeFrame, Frame, FrameReader, jsonOf } from "./frames.ts";

/** A link that has not asked to join within this long is closed. */
const JOIN_REQUEST_TIMEOUT_MS = 10_000;
/** How long a joiner's view, once ended, may take to read what was queued for it. */
const CLOSE_GRACE_MS = 300_000;

/** Options of {@linkcode startPeerServer}. */
export interface PeerServerOptions {
  hostname: string;
  port: number;
  cluster: string;
  identity: ApiIdentity;
  deps: Pick<NodeSessionDeps, "hub" | "auth">;
  log: Logger;
}

/** A running peer listener. */
export interface PeerServer {
  addr: { hostname: string; port: number };
  /** Presents a renewed identity to links from now on. */
  useIdentity(identity: ApiIdentity): void;
  close(): Promise<void>;
}

/** Starts the peer listener. */
export async function startPeerServer(options: PeerServerOptions): Promise<PeerServer> {
  const links = new Set<tls.TLSSocket>();
  const server = tls.createServer({
    key: options.identity.key,
    cert: options.identity.cert,
    ca: options.identity.ca,
    requestCert: true,
    rejectUnauthorized: true,
  }, (link) => {
    links.add(link);
    link.once("close", () => links.delete(link));
    const subject = link.getPeerCertificate()?.subject as Record<string, string> | undefined;
    if (subject?.O !== "proxy" || subject?.OU !== options.cluster) {
      link.destroy();
      return;
    }
    serveLink(link, subject.CN, options).catch((error) => {
      options.log.error("peer link failed", { peer: subject.CN, error: String(error) });
      link.destroy();
    });
  });
  server.on("tlsClientError", () => {}); // a bad handshake concerns that client only
  const { promise: listening, resolve, reject } = Promise.withResolvers<void>();
  server.once("error", reject);
  server.listen(options.port, options.hostname, () => resolve());
  await listening;
  const address = server.address() as { address: string; port: number };
  return {
    addr: { hostname: address.address, port: address.port },
    useIdentity: (identity) =>
      server.setSecureContext({ key: identity.key, cert: identity.cert, ca: identity.ca }),
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        for (const link of links) link.destroy();
      }),
  };
}

/** Serves one joiner: the join request, then output down and input up. */
async function serveLink(link: tls.TLSSocket, peer: string, options: PeerServerOptions) {
  const reader = new FrameReader();
  const { promise: request, resolve, reject } = Promise.withResolvers<
    { sessionId: string; mode: string; proof: UserProof; via?: string }
  >();
  const timer = setTimeout(() => reject(new Error("no join request")), JOIN_REQUEST_TIMEOUT_MS);
  let joined: { live: LiveSession; partyId: string } | undefined;
  link.on("data", (chunk: Uint8Array) => {
    let frames;
    try {
      frames = reader.push(new Uint8Array(chunk));
    } catch {
      return link.destroy();
    }
    for (const { type, payload } of frames) {
      if (type === Frame.JOIN && !joined) {
        try {
          resolve(jsonOf(payload));
        } catch {
          link.destroy();
        }
      } else if (type === Frame.DATA && joined) {
        joined.live.input(joined.partyId, payload);
      }
    }
  });
  link.on("close", () => {
    clearTimeout(timer);
    reject(new Error("closed before joining"));
    if (joined) joined.live.leave(joined.partyId);
  });
  link.on("error", () => {});
  const join = await request.catch(() => null);
  clearTimeout(timer);
  if (!join) return link.destroy();
  try {
    const identity = await options.deps.auth.identityOf(join.proof);
    const { live, mode } = await authorizeJoin(
      options.deps,
      join.proof,
      identity,
      String(join.sessionId),
      join.mode,
    );
    const info = live.describe();
    link.write(
      encodeFrame(Frame.HELLO, { info: { ...info, parties: undefined }, parties: info.parties }),
    );
    const party = live.join(identity.user, mode, linkSink(link, live));
    joined = { live, partyId: party.id };
    await options.deps.auth.audit({
      code: "session.join",
      user: identity.user,
      fields: { session_id: live.info.id, mode, via: join.via ?? peer },
    });
  } catch (error) {
    const wire = errorToWire(error);
    if (!wire) throw error;
    link.end(encodeFrame(Frame.ERROR, wire));
  }
}

/** A party whose output and events go down the link. */
function linkSink(link: tls.TLSSocket, live: LiveSession): PartySink {
  return {
    write: (data) => void link.write(encodeFrame(Frame.DATA, data)),
    backlog: () => link.writableLength,
    notify: (event) =>
      void link.write(encodeFrame(Frame.EVENT, {
        event,
        parties: live.describe().parties,
      })),
    close(reason) {
      link.end(encodeFrame(Frame.CLOSE, { reason }));
      // The reason waits behind the output queued for this joiner: a joining
      // proxy that never reads it again would hold that output here forever.
      const stuck = setTimeout(() => link.destroy(), CLOSE_GRACE_MS);
      link.once("close", () => clearTimeout(stuck));
    },
  };
}
