/**
 * Live SSH sessions as auth tracks them: proxies report each session's
 * start, vouch for the live ones with heartbeats, and report the end; auth
 * ends the ones no proxy vouches for any more (their proxy stopped or died),
 * each with its `session.end` event. Users list and locate their live
 * sessions (everyone's with "sessions.join"), and end them (anyone's with
 * "sessions.end"), through the revocation feed. Each report that a
 * recording grew or ended is passed to the recording index.
 *
 * @module
 */

import { AccessDenied, NotFound } from "../errors.ts";
import type { NewSession, SessionParty, SessionRecord, Store } from "../store/store.ts";
import type { AuditInput } from "./audit.ts";
import type { RecordingIndexer } from "./recording_index.ts";
import type { RevocationFeed } from "./revocation_feed.ts";
import type { Identity, SessionLocation } from "./service.ts";

/** The most live sessions a listing returns. */
const LIVE_LIMIT = 10_000;

/** The session trackers over the store. */
export class LiveSessions {
  constructor(
    private readonly store: Store,
    private readonly recordingIndex: RecordingIndexer,
    private readonly revocations: RevocationFeed,
    private readonly audit: (event: AuditInput) => Promise<void>,
    private readonly now: () => number,
  ) {}

  /** Starts tracking a session a proxy opened. */
  async start(session: NewSession): Promise<void> {
    await this.store.sessions.create(session);
  }

  /** Proxy `proxyId` vouches for its live sessions (and for itself). */
  async heartbeat(proxyId: string, live: { id: string; parties: SessionParty[] }[]): Promise<void> {
    const now = this.now();
    await this.store.sessions.heartbeat(proxyId, live, now);
    await this.store.proxies.touch(proxyId, now);
    // A proxy in this process writes its recordings itself: index what they gained.
    for (const session of live) this.recordingIndex.update(session.id);
  }

  /** The live sessions `identity` may see: its own, or all with "sessions.join". */
  async list(identity: Identity): Promise<SessionRecord[]> {
    const all = identity.permissions.includes("sessions.join");
    return await this.store.sessions.list({
      user: all ? undefined : identity.user,
      activeOnly: true,
      limit: LIVE_LIMIT,
    });
  }

  /** Where a live session `identity` may see runs; null when there is none. */
  async locate(identity: Identity, id: string): Promise<SessionLocation | null> {
    const session = (await this.list(identity)).find((s) => s.id === id);
    if (!session?.proxyId) return null;
    const proxy = await this.store.proxies.get(session.proxyId);
    return {
      proxyId: session.proxyId,
      peerAddr: proxy?.peerAddr ?? null,
      user: session.user,
      node: session.node,
      login: session.login,
    };
  }

  /**
   * Ends a live session of `identity`'s own, or anyone's with "sessions.end";
   * audited as `session.terminate`.
   */
  async end(identity: Identity, id: string): Promise<void> {
    const session = await this.store.sessions.get(id);
    if (!session || session.ended !== null) {
      throw new NotFound(`No live session "${id}"; list them with \`postern sessions ls\`.`);
    }
    if (session.user !== identity.user && !identity.permissions.includes("sessions.end")) {
      throw new AccessDenied(
        `This needs the "sessions.end" permission, which your roles do not grant.`,
      );
    }
    await this.revocations.revoke(session.user, `session ended by ${identity.user}`, {
      sessionId: id,
    });
    await this.audit({
      code: "session.terminate",
      user: identity.user,
      fields: { session_id: id, node: session.node, login: session.login, owner: session.user },
    });
  }

  /** A proxy reports a session's end (`exitCode` null when unknown). */
  async recordEnd(id: string, exitCode: number | null): Promise<void> {
    await this.store.sessions.end(id, this.now(), exitCode);
    this.recordingIndex.update(id);
  }

  /**
   * Ends the trackers no proxy has vouched for in `staleMs` (their proxy
   * stopped or died), each with its `session.end` event.
   *
   * @returns how many were ended
   */
  async endLost(staleMs: number): Promise<number> {
    const lost = await this.store.sessions.listStale(this.now() - staleMs);
    let ended = 0;
    for (const session of lost) if (await this.#endTracker(session, "proxy lost")) ended++;
    return ended;
  }

  /**
   * Ends the sessions proxy `proxyId` left open when it stopped or crashed, so none stays
   * "live" for ever; each gets its `session.end` event with `reason`.
   *
   * @returns how many were ended
   */
  async endAbandoned(reason: string, proxyId: string): Promise<number> {
    const open = (await this.store.sessions.list({ activeOnly: true, limit: LIVE_LIMIT }))
      .filter((session) => session.proxyId === proxyId || session.proxyId === null);
    let ended = 0;
    for (const session of open) if (await this.#endTracker(session, reason)) ended++;
    return ended;
  }

  /** Ends a live session for its lost proxy; false when it had already ended. */
  async #endTracker(session: SessionRecord, reason: string): Promise<boolean> {
    // Another auth server on the same store may be ending it right now: one audits.
    if (!(await this.store.sessions.endLive(session.id, this.now(), null))) return false;
    this.recordingIndex.update(session.id);
    await this.audit({
      code: "session.end",
      user: session.user,
      fields: {
        session_id: session.id,
        node: session.node,
        login: session.login,
        exit_code: null,
        reason,
        proxy: session.proxyId,
      },
    });
    return true;
  }
}
