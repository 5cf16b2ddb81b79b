/**
 * The recordings of SSH sessions as auth keeps them: proxies append what
 * they recorded; users list, search and replay their own recordings, and
 * everyone's with "sessions.replay". Asking for someone else's without it
 * finds nothing in a listing, and is refused for one recording.
 *
 * @module
 */

import { AccessDenied, NotFound } from "../errors.ts";
import type { SessionRecord, Store } from "../store/store.ts";
import type { RecordingIndexer } from "./recording_index.ts";
import type { Identity, RecordingFilter, RecordingSearchHit } from "./service.ts";

/** The recordings over the store, and their search index. */
export class RecordingArchive {
  constructor(
    private readonly store: Store,
    private readonly recordingIndex: RecordingIndexer,
  ) {}

  /** The recordings `identity` may replay that match `filter`, newest first. */
  async list(identity: Identity, filter: RecordingFilter): Promise<SessionRecord[]> {
    const all = identity.permissions.includes("sessions.replay");
    // Without "sessions.replay", asking for someone else's finds nothing rather than failing.
    if (!all && filter.user !== undefined && filter.user !== identity.user) return [];
    return await this.store.sessions.list({
      user: all ? filter.user : identity.user,
      node: filter.node,
      login: filter.login,
      since: filter.since,
      until: filter.until,
      limit: filter.limit,
      offset: filter.offset,
    });
  }

  /** Where `text` occurs in the recordings `identity` may replay; newest first, at most `limit`. */
  async search(identity: Identity, text: string, limit: number): Promise<RecordingSearchHit[]> {
    const all = identity.permissions.includes("sessions.replay");
    const hits = await this.recordingIndex.search(text, {
      user: all ? undefined : identity.user,
      limit,
    });
    const sessions = new Map<string, SessionRecord | null>();
    const found: RecordingSearchHit[] = [];
    for (const { sessionId, ...hit } of hits) {
      if (!sessions.has(sessionId)) {
        sessions.set(sessionId, await this.store.sessions.get(sessionId));
      }
      const recording = sessions.get(sessionId);
      if (recording) found.push({ recording, ...hit });
    }
    return found;
  }

  /** One recording `identity` may replay; NotFound or AccessDenied otherwise. */
  async get(identity: Identity, id: string): Promise<SessionRecord> {
    const record = await this.store.sessions.get(id);
    if (!record) {
      throw new NotFound(
        `Cannot find recording "${id}": it may have been removed, or the link is incomplete.`,
      );
    }
    if (record.user !== identity.user && !identity.permissions.includes("sessions.replay")) {
      throw new AccessDenied(`You may not replay other users' sessions.`);
    }
    return record;
  }

  /** The asciicast of a recording `identity` may replay. */
  async open(identity: Identity, id: string): Promise<ReadableStream<Uint8Array>> {
    return await this.store.recordings.open((await this.get(identity, id)).id);
  }

  /**
   * Appends what a proxy recorded of session `id` from byte `offset` on.
   *
   * @returns the size auth now holds
   */
  async append(id: string, offset: number, bytes: Uint8Array): Promise<number> {
    if (!(await this.store.sessions.get(id))) {
      throw new NotFound(`No session "${id}" to store a recording for.`);
    }
    const size = await this.store.recordings.append(id, offset, bytes);
    this.recordingIndex.update(id);
    return size;
  }

  /**
   * Where a proxy in this process writes recordings straight into auth's:
   * the store's directory when it keeps them as files, else null (the proxy
   * spools and ships them like a proxy of its own).
   */
  get localDir(): string | null {
    return this.store.recordings.localDir;
  }
}
