/**
 * The search index of recordings in SQLite: an FTS5 table of their text
 * (`recording_text`, tokenised as {@link searchWords} splits words) and how
 * far each recording is indexed (`recording_index`).
 *
 * @module
 */

import {
  MIN_PREFIX,
  type RecordingIndexStore,
  type RecordingText,
  type RecordingTextMatch,
  type RecordingTextQuery,
} from "../store.ts";
import { clampSearchLimit } from "../paging.ts";
import { type Db, type Gate, num, rows } from "./db.ts";

/**
 * The FTS5 query for `words`: one phrase, the last word also as a prefix
 * (when long enough).
 * Words are letters and digits only, so nothing in them needs quoting.
 */
export function ftsPhrase(words: string[]): string {
  return `"${words.join(" ")}"${words.at(-1)!.length >= MIN_PREFIX ? "*" : ""}`;
}

/** The `recording_text` and `recording_index` tables. */
export class SqliteRecordingIndex implements RecordingIndexStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  indexedBytes(id: string): Promise<number> {
    return this.gate(() => {
      const row = this.db.get("SELECT indexed_bytes FROM recording_index WHERE session_id = ?", id);
      return row ? num(row.indexed_bytes) : 0;
    });
  }

  add(id: string, from: number, to: number, texts: RecordingText[]): Promise<boolean> {
    return this.gate(() => {
      // A savepoint makes the check and the writes one change, inside a transaction or not.
      this.db.raw.exec("SAVEPOINT recording_index_add");
      try {
        const row = this.db.get(
          "SELECT indexed_bytes FROM recording_index WHERE session_id = ?",
          id,
        );
        const added = (row ? num(row.indexed_bytes) : 0) === from;
        if (added) {
          for (const t of texts) {
            this.db.run(
              "INSERT INTO recording_text (text, session_id, stream, times) VALUES (?, ?, ?, ?)",
              t.text,
              id,
              t.stream,
              JSON.stringify(t.times),
            );
          }
          this.db.run(
            `INSERT INTO recording_index (session_id, indexed_bytes) VALUES (?, ?)
             ON CONFLICT (session_id) DO UPDATE SET indexed_bytes = excluded.indexed_bytes`,
            id,
            to,
          );
        }
        this.db.raw.exec("RELEASE recording_index_add");
        return added;
      } catch (e) {
        this.db.raw.exec("ROLLBACK TO recording_index_add");
        this.db.raw.exec("RELEASE recording_index_add");
        throw e;
      }
    });
  }

  search(query: RecordingTextQuery): Promise<RecordingTextMatch[]> {
    if (query.words.length === 0) return Promise.resolve([]);
    return this.gate(() =>
      this.db.all(
        // Newest first by rowid: FTS5 walks its index backwards and stops at the limit.
        `SELECT session_id, stream, times, text FROM recording_text
         WHERE recording_text MATCH :match
           AND (:user IS NULL OR session_id IN (SELECT id FROM sessions WHERE user = :user))
         ORDER BY rowid DESC LIMIT :limit`,
        {
          match: ftsPhrase(query.words),
          user: query.user ?? null,
          limit: clampSearchLimit(query.limit),
        },
      ).map(rows.recordingText)
    );
  }
}
