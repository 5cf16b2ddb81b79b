/**
 * Finding and authorising a live session to join: this proxy's own from the
 * hub; one that another proxy runs through a peer link to that proxy, which
 * authorises the joiner again itself. The same rules everywhere: your own
 * sessions, or any with "sessions.join"; a peer (who types) needs the
 * session's login on its node.
 *
 * @module
 */

import type { Identity, UserProof } from "../auth/service.ts";
import type { ApiIdentity } from "../auth/api/client.ts";
import { AccessDenied, BadRequest, NotFound, Unavailable } from "../errors.ts";
import type { LiveSession, PartyMode } from "../session/hub.ts";
import type { NodeSessionDeps } from "./node_session.ts";
import { joinRemoteSession } from "./peer/client.ts";

/** What joining another proxy's session takes: this proxy's cluster identity. */
export interface PeerAccess {
  proxyId: string;
  identity: ApiIdentity;
}

/** The session to join and the mode granted. */
export interface JoinTarget {
  live: LiveSession;
  mode: PartyMode;
}

/**
 * Checks that `identity` may join this proxy's session `id` as `requested`.
 *
 * @throws NotFound when this proxy does not run it, AccessDenied, BadRequest
 */
export async function authorizeJoin(
  deps: Pick<NodeSessionDeps, "hub" | "auth">,
  proof: UserProof,
  identity: Identity,
  id: string,
  requested: string,
): Promise<JoinTarget> {
  const live = id ? deps.hub.get(id) : undefined;
  if (!live) throw new NotFound(`No live session "${id}"; list them with \`postern sessions ls\`.`);
  checkJoin(live.info, identity, requested);
  const mode = requested as PartyMode;
  if (mode === "peer") await checkPeer(deps, proof, live.info);
  return { live, mode };
}

function checkJoin(info: { user: string }, identity: Identity, requested: string): void {
  if (info.user !== identity.user && !identity.permissions.includes("sessions.join")) {
    throw new AccessDenied("You may not join other users' sessions.");
  }
  if (requested !== "observer" && requested !== "peer") {
    throw new BadRequest(`Join mode "${requested}" is not observer or peer.`);
  }
}

async function checkPeer(
  deps: Pick<NodeSessionDeps, "auth">,
  proof: UserProof,
  info: { node: string; login: string },
): Promise<void> {
  await deps.auth.authorizeNode(proof, info.node, info.login).catch(() => {
    throw new AccessDenied(
      `You may only observe: your roles do not allow login "${info.login}" on "${info.node}".`,
    );
  });
}

/**
 * The session `id` to join as `requested`, wherever it runs: this proxy's
 * own, or a mirror of one on another proxy reached over the peer link.
 */
export async function joinTarget(
  deps: Pick<NodeSessionDeps, "hub" | "auth"> & { peer?: PeerAccess },
  proof: UserProof,
  identity: Identity,
  id: string,
  requested: string,
): Promise<JoinTarget> {
  if (deps.hub.get(id)) return await authorizeJoin(deps, proof, identity, id, requested);
  const located = id ? await deps.auth.locateSession(proof, id) : null;
  if (!located) {
    throw new NotFound(`No live session "${id}"; list them with \`postern sessions ls\`.`);
  }
  if (!deps.peer || !located.peerAddr) {
    throw new Unavailable(
      `Session "${id}" runs on proxy "${located.proxyId}", which this proxy cannot reach; join it through that proxy.`,
    );
  }
  checkJoin(located, identity, requested);
  const live = await joinRemoteSession({
    peerAddr: located.peerAddr,
    proxyId: located.proxyId,
    identity: deps.peer.identity,
    sessionId: id,
    mode: requested as PartyMode,
    proof,
    via: deps.peer.proxyId,
  });
  return { live, mode: requested as PartyMode };
}
