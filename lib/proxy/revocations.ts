/**
 * Ends live connections the moment access is revoked. Every connection
 * through this proxy (SSH gateway connections, proxy-terminated sessions,
 * web terminals and joiners, HTTPS tunnels) is tracked here with its user
 * and, for the web, its web session; {@linkcode followRevocations} follows
 * auth's revocation feed (user removed, reset or locked; signed out) and
 * closes the matching ones with the revocation's reason.
 *
 * Auth writes the feed from whichever process made the change (the admin
 * CLI, the web UI, another auth server), so a proxy learns of it by polling:
 * a revocation takes effect within one poll interval.
 *
 * @module
 */

import type { AuthService } from "../auth/service.ts";
import type { Logger } from "../log.ts";
import { hashSecret, type Revocation, type SecretHash } from "../store/store.ts";
import { type ConnectionKind, connectionOpened } from "../metrics/metrics.ts";

/** How often the proxy asks auth for new revocations. */
export const REVOCATION_POLL_MS = 500;

/** One tracked connection. */
export interface LiveConnection {
  user: string;
  /** What it is, for the audit event: "ssh", "ssh session", "web terminal", "web join", "https tunnel". */
  kind: string;
  /** The web session it belongs to (web terminals), if any. */
  webSessionHash?: SecretHash;
  /** The live session it runs (proxy-terminated sessions), if any. */
  sessionId?: string;
  /** Ends the connection, telling the user `reason` where the protocol allows. */
  close(reason: string): void;
}

/** The metrics label of each {@linkcode LiveConnection} kind. */
const METRIC_KINDS: Record<string, ConnectionKind> = {
  "ssh": "ssh",
  "ssh session": "ssh_session",
  "web terminal": "web_terminal",
  "web join": "web_join",
  "https tunnel": "https_tunnel",
};

/** The live connections of this proxy, by user. */
export class LiveConnections {
  #byUser = new Map<string, Set<LiveConnection>>();

  /**
   * Tracks `connection` until the returned function is called (when it ends).
   *
   * @example
   * ```ts
   * const untrack = connections.track({ user, kind: "ssh", close: () => client.end() });
   * client.on("close", untrack);
   * ```
   */
  track(connection: LiveConnection): () => void {
    let set = this.#byUser.get(connection.user);
    if (!set) this.#byUser.set(connection.user, set = new Set());
    set.add(connection);
    const closed = connectionOpened(METRIC_KINDS[connection.kind] ?? "ssh");
    return () => {
      closed();
      set.delete(connection);
      if (set.size === 0 && this.#byUser.get(connection.user) === set) {
        this.#byUser.delete(connection.user);
      }
    };
  }

  /** Closes what `revocation` covers; returns the connections closed. */
  revoke(revocation: Revocation): LiveConnection[] {
    const set = this.#byUser.get(revocation.user);
    if (!set) return [];
    const closed = [...set].filter((connection) =>
      (revocation.webSessionHash === null ||
        connection.webSessionHash === revocation.webSessionHash) &&
      (revocation.sessionId === null || connection.sessionId === revocation.sessionId)
    );
    for (const connection of closed) {
      set.delete(connection);
      connection.close(revocation.reason);
    }
    if (set.size === 0) this.#byUser.delete(revocation.user);
    return closed;
  }
}

/** The hash a {@linkcode LiveConnection} carries for a web session id. */
export function webSessionHash(sessionId: string): SecretHash {
  return hashSecret(sessionId);
}

/**
 * Follows auth's revocation feed from now on, closing the connections each
 * revocation covers and auditing each one.
 *
 * @returns a function that stops following
 */
export async function followRevocations(
  auth: AuthService,
  connections: LiveConnections,
  log: Logger,
  intervalMs = REVOCATION_POLL_MS,
): Promise<() => void> {
  let last = await auth.lastRevocationId();
  let polling = false;
  let failing = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      for (const revocation of await auth.revocationsSince(last)) {
        last = revocation.id;
        for (const connection of connections.revoke(revocation)) {
          log.info("connection ended: access revoked", {
            user: revocation.user,
            kind: connection.kind,
            reason: revocation.reason,
          });
          await auth.audit({
            code: "connection.revoked",
            user: revocation.user,
            fields: { kind: connection.kind, reason: revocation.reason },
          });
        }
      }
      if (failing) log.info("reading revocations again");
      failing = false;
    } catch (error) {
      // Once per outage, not twice a second.
      if (!failing) log.warn("cannot read revocations; will retry", { error: String(error) });
      failing = true;
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(poll, intervalMs);
  return () => clearInterval(timer);
}
