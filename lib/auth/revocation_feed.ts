/**
 * The revocation feed as auth writes it: when access ends before its
 * credentials expire (a sign-out, a lock, a role change, a session ended by
 * an administrator), auth appends a revocation and every proxy, following
 * the feed by id, ends the connections it names. Old entries are deleted
 * once every proxy has followed them.
 *
 * @module
 */

import type { Revocation, SecretHash, Store } from "../store/store.ts";

/** How long revocations are kept: proxies follow them within a second. */
const REVOCATION_RETENTION_MS = 60 * 60_000;

/** Which of a user's connections a revocation ends: all of them unless narrowed. */
export interface RevocationScope {
  /** Only the connections of this web session. */
  webSessionHash?: SecretHash;
  /** Only this live session. */
  sessionId?: string;
}

/** The revocations proxies follow, over the store. */
export class RevocationFeed {
  constructor(private readonly store: Store, private readonly now: () => number) {}

  /** Tells every proxy to end `user`'s live connections (or only those `scope` names). */
  async revoke(user: string, reason: string, scope: RevocationScope = {}): Promise<void> {
    await this.store.revocations.add({
      user,
      webSessionHash: scope.webSessionHash ?? null,
      sessionId: scope.sessionId ?? null,
      reason,
      created: this.now(),
    });
  }

  /** Revocations after `id`, oldest first. */
  since(id: number): Promise<Revocation[]> {
    return this.store.revocations.since(id);
  }

  /** The id of the newest revocation (0 when none). */
  lastId(): Promise<number> {
    return this.store.revocations.lastId();
  }

  /**
   * Deletes revocations old enough at `now` that every proxy has followed them.
   *
   * @returns how many were deleted
   */
  deleteExpired(now: number): Promise<number> {
    return this.store.revocations.deleteBefore(now - REVOCATION_RETENTION_MS);
  }
}
