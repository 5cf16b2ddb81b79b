/**
 * Finding a live session to join: the hub holds this proxy's sessions; a
 * session another proxy runs is named with its proxy, so the user knows
 * where to join it.
 *
 * @module
 */

import type { UserProof } from "../auth/service.ts";
import { NotFound, Unavailable } from "../errors.ts";
import type { LiveSession } from "../session/hub.ts";
import type { NodeSessionDeps } from "./node_session.ts";

/** The live session `id` of this proxy; NotFound, or Unavailable naming the proxy that runs it. */
export async function sessionToJoin(
  deps: Pick<NodeSessionDeps, "hub" | "auth">,
  proof: UserProof,
  id: string,
): Promise<LiveSession> {
  const live = id ? deps.hub.get(id) : undefined;
  if (live) return live;
  const tracked = id
    ? (await deps.auth.listLiveSessions(proof).catch(() => [])).find((s) => s.id === id)
    : undefined;
  if (tracked) {
    throw new Unavailable(
      `Session "${id}" runs on proxy "${tracked.proxyId}"; join it through that proxy.`,
    );
  }
  throw new NotFound(`No live session "${id}"; list them with \`postern sessions ls\`.`);
}
