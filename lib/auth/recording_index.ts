/**
 * Keeps the search index of recordings up to date, and searches it. Auth
 * indexes a recording from the store whenever it learns that the recording
 * grew: a proxy of its own appended to it, a proxy in this process said the
 * session is live (it writes the file itself), or the session ended. Each
 * update reads only what is new since the last one; updates of one
 * recording never overlap, and the store refuses a step another auth server
 * already took. When auth starts it catches up on every recording, so
 * recordings made before the index existed (or copied from another store)
 * are found too.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { type RecordingTextMatch, searchWords, type Store } from "../store/store.ts";
import { locateHit, piecesOf, RecordingTextReader, type TextHit } from "./recording_text.ts";
import { BackgroundPace } from "./background_pace.ts";

/**
 * Lines stored per write while a long recording is read. Writes are short
 * and other work runs between them: auth (and a proxy in the same process)
 * stays responsive while a large recording is indexed.
 */
const LINES_PER_WRITE = 1_000;
/**
 * The most of the event loop indexing takes, all recordings together: it is
 * work after the fact, and the sessions and tunnels served beside it come
 * first (background_pace.ts).
 */
const INDEXING_SHARE = 0.25;
/** The share while the process is busy besides: relays and logins keep nearly all of the loop. */
const BUSY_INDEXING_SHARE = 0.05;
/** Recording bytes read per step: a few milliseconds of work, so the loop is never held long. */
const BYTES_PER_STEP = 32 * 1024;
/** Sessions looked at per page when auth starts. */
const STARTUP_PAGE = 500;

/** A match of a search: which recording, and where in it. */
export interface RecordingHit extends TextHit {
  sessionId: string;
  stream: RecordingTextMatch["stream"];
}

/** The index of the recordings' text. */
export class RecordingIndexer {
  /** Updates running, by recording; a recording asked for again meanwhile is updated once more. */
  #running = new Map<string, Promise<void>>();
  #again = new Set<string>();
  #closed = false;
  readonly #pace: BackgroundPace;

  /**
   * @param store where recordings and the index are
   * @param log where indexing failures go
   * @param share the most of the event loop indexing takes while the
   *   process is otherwise quiet (the benchmark, which times indexing itself,
   *   gives it all); while it is busy, at most a twentieth
   */
  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    share: number = INDEXING_SHARE,
  ) {
    this.#pace = new BackgroundPace(share, Math.min(BUSY_INDEXING_SHARE, share));
  }

  /** Indexes what is new of recording `id`, soon (errors are logged). */
  update(id: string): void {
    if (this.#closed) return;
    if (this.#running.has(id)) {
      this.#again.add(id);
      return;
    }
    const run = (async () => {
      do {
        this.#again.delete(id);
        try {
          await this.#catchUp(id);
        } catch (error) {
          this.log.warn("cannot index a recording for search; will try again when it grows", {
            session_id: id,
            error: String(error),
          });
        }
      } while (this.#again.has(id) && !this.#closed);
      this.#running.delete(id);
    })();
    this.#running.set(id, run);
  }

  /** Resolves when no update runs (tests and shutdown wait for it). */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }

  /** Catches up on every recording, a page of sessions at a time (when auth starts). */
  async updateAll(): Promise<void> {
    for (let offset = 0; !this.#closed; offset += STARTUP_PAGE) {
      const sessions = await this.store.sessions.list({ limit: STARTUP_PAGE, offset });
      for (const session of sessions) {
        this.update(session.id);
        await this.settled();
      }
      if (sessions.length < STARTUP_PAGE) return;
    }
  }

  /**
   * Finds `text` (its words, in order) in the recordings; with `user`, in
   * that user's only. The newest matches first, each with its time and context.
   */
  async search(text: string, options: { user?: string; limit?: number }): Promise<RecordingHit[]> {
    const words = searchWords(text).slice(0, 16);
    if (words.length === 0) return [];
    const matches = await this.store.recordingIndex.search({ words, ...options });
    return matches.map((match) => ({
      sessionId: match.sessionId,
      stream: match.stream,
      ...locateHit(match, words),
    }));
  }

  async #catchUp(id: string): Promise<void> {
    const session = await this.store.sessions.get(id);
    if (!session) return;
    const from = await this.store.recordingIndex.indexedBytes(id);
    let stream: ReadableStream<Uint8Array>;
    try {
      stream = await this.store.recordings.open(id, from);
    } catch {
      return; // Nothing recorded yet (or the recording was removed): nothing to index.
    }
    const reader = new RecordingTextReader(from);
    let at = from;
    for await (const chunk of stream) {
      for (let start = 0; start < chunk.length; start += BYTES_PER_STEP) {
        // Closing stops here, between steps: what is left is caught up on at the next start.
        if (this.#closed) return;
        const stored = await this.#pace.step(async () => {
          reader.push(chunk.subarray(start, start + BYTES_PER_STEP));
          if (reader.ready < LINES_PER_WRITE) return true;
          const step = reader.take({ final: false });
          if (!(await this.#store(id, at, step))) return false;
          at = step.to;
          return true;
        });
        if (!stored) return;
      }
    }
    // A session that ended has nothing more to come, unless its proxy still ships the rest.
    await this.#pace.step(async () => {
      const step = reader.take({ final: session.ended !== null });
      if (step.to > at) await this.#store(id, at, step);
    });
  }

  /** Stores one step; false when another auth server indexed these bytes first. */
  #store(
    id: string,
    from: number,
    step: { lines: Parameters<typeof piecesOf>[0]; to: number },
  ): Promise<boolean> {
    return this.store.recordingIndex.add(id, from, step.to, piecesOf(step.lines));
  }

  /**
   * Stops taking updates; those running stop after their current step
   * (paced, a large recording would hold shutdown for minutes). Auth catches
   * up on what is left when it starts again (see {@link updateAll}).
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
  }
}
