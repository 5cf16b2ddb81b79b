/**
 * The search index of recordings in PostgreSQL: `recording_text` holds
 * their text with a `tsvector` of its words (made here, from
 * {@link searchWords}, so that both backends find the same words) under a GIN
 * index; `recording_index` how far each recording is indexed.
 *
 * @module
 */

import {
  MIN_PREFIX,
  type RecordingIndexStore,
  type RecordingText,
  type RecordingTextMatch,
  type RecordingTextQuery,
  searchWords,
} from "../store.ts";
import { clampSearchLimit } from "../paging.ts";
import { num, rows, type Sql } from "./db.ts";
import type { InTransaction } from "./users.ts";

/** Fewer matches than this are fetched through the GIN index; more, newest rows first. */
const RARE_ROWS = 2_000;
/** tsvector positions stop at this; later words share it (still found, phrases less exactly). */
const MAX_POSITION = 16_383;

/**
 * `text`'s words as a tsvector literal: each word with its positions. Words
 * are letters and digits only, so nothing in them needs quoting.
 */
export function tsvectorOf(text: string): string {
  const positions = new Map<string, number[]>();
  searchWords(text).forEach((word, i) => {
    const at = positions.get(word) ?? [];
    if (at.length < 256) at.push(Math.min(i + 1, MAX_POSITION));
    positions.set(word, at);
  });
  return [...positions].map(([word, at]) => `'${word}':${at.join(",")}`).join(" ");
}

/**
 * The tsquery literal for `words`: one phrase (or, with `join` "&", all of
 * them anywhere), the last word also as a prefix (when long enough).
 */
export function tsqueryOf(words: string[], join: "<->" | "&" = "<->"): string {
  const last = words.length - 1;
  return words.map((word, i) => `'${word}'${i === last && word.length >= MIN_PREFIX ? ":*" : ""}`)
    .join(` ${join} `);
}

/** The `recording_text` and `recording_index` tables. */
export class PgRecordingIndex implements RecordingIndexStore {
  constructor(private readonly sql: Sql, private readonly inTransaction: InTransaction) {}

  async indexedBytes(id: string): Promise<number> {
    const [row] = await this.sql`SELECT indexed_bytes FROM recording_index
      WHERE session_id = ${id}`;
    return row ? num(row.indexed_bytes) : 0;
  }

  add(id: string, from: number, to: number, texts: RecordingText[]): Promise<boolean> {
    return this.inTransaction(async (tx) => {
      await tx`INSERT INTO recording_index (session_id, indexed_bytes) VALUES (${id}, 0)
        ON CONFLICT (session_id) DO NOTHING`;
      const [{ indexed_bytes: indexed }] = await tx`SELECT indexed_bytes FROM recording_index
        WHERE session_id = ${id} FOR UPDATE`;
      if (num(indexed) !== from) return false;
      if (texts.length > 0) {
        await tx`INSERT INTO recording_text (session_id, stream, times, body, words)
          SELECT ${id}, stream, times::jsonb, body, words::tsvector
          FROM unnest(${texts.map((t) => t.stream)}::text[], ${
          texts.map((t) => JSON.stringify(t.times))
        }::text[], ${texts.map((t) => t.text)}::text[], ${
          texts.map((t) => tsvectorOf(t.text))
        }::text[]) WITH ORDINALITY AS u(stream, times, body, words, n)
          ORDER BY n`;
      }
      await tx`UPDATE recording_index SET indexed_bytes = ${to} WHERE session_id = ${id}`;
      return true;
    });
  }

  async search(query: RecordingTextQuery): Promise<RecordingTextMatch[]> {
    if (query.words.length === 0) return [];
    const limit = clampSearchLimit(query.limit);
    const params: (string | number)[] = [tsqueryOf(query.words), limit];
    if (query.user !== undefined) params.push(query.user);
    const byUser = query.user !== undefined
      ? "AND session_id IN (SELECT id FROM sessions WHERE user_name = $3)"
      : "";
    const found = await this.inTransaction(async (tx) => {
      // The planner cannot tell a rare word from a common one (a tsvector's
      // statistics know only the most common words), so count: up to
      // RARE_ROWS rows with all the words, through the GIN index alone (the
      // words' positions would need every row read). Rare words are then
      // fetched through that index and sorted; common ones are found by
      // walking the newest rows until the limit is reached.
      await tx.unsafe("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off");
      const [{ n }] = await tx.unsafe(
        `SELECT count(*)::int AS n FROM (
           SELECT 1 FROM recording_text WHERE words @@ $1::tsquery LIMIT ${RARE_ROWS}) AS m`,
        [tsqueryOf(query.words, "&")],
        { prepare: false },
      );
      if (Number(n) >= RARE_ROWS) {
        await tx.unsafe(
          "SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = on; SET LOCAL enable_bitmapscan = off",
        );
      }
      return await tx.unsafe(
        `SELECT session_id, stream, times, body AS text FROM recording_text
         WHERE words @@ $1::tsquery ${byUser}
         ORDER BY id DESC LIMIT $2`,
        params,
        { prepare: false },
      );
    });
    return found.map(rows.recordingText);
  }
}
