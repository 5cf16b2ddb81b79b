/**
 * Recordings in PostgreSQL, so that every auth server (and through them
 * every proxy) replays them: a `recordings` row holds a recording's size,
 * `recording_chunks` its bytes as they were appended. Appends to one
 * recording take its row lock, so two appends of the same bytes (a proxy
 * retrying) store them once.
 *
 * @module
 */

import { NotFound } from "../../errors.ts";
import { checkAppendOffset, checkOffset, checkSessionId } from "../recording_files.ts";
import type { RecordingStore } from "../store.ts";
import { num, type Sql } from "./db.ts";
import type { InTransaction } from "./users.ts";

/** Chunks read per query while a recording streams out. */
const CHUNKS_PER_READ = 8;

/** The `recordings` and `recording_chunks` tables. */
export class PgRecordings implements RecordingStore {
  readonly localDir = null;

  constructor(private readonly sql: Sql, private readonly inTransaction: InTransaction) {}

  async open(id: string, from = 0): Promise<ReadableStream<Uint8Array>> {
    checkSessionId(id);
    checkOffset(from);
    const [found] = await this.sql`SELECT 1 FROM recordings WHERE session_id = ${id}`;
    if (!found) throw new NotFound(`Session "${id}" has no recording.`);
    const sql = this.sql;
    let next = from;
    // Pulled a few chunks at a time: a long recording never sits in memory whole.
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        // The first chunk may start before `from`: it is cut where `from` falls.
        const rows = await sql`SELECT byte_offset, data FROM recording_chunks
          WHERE session_id = ${id} AND byte_offset + octet_length(data) > ${next}
          ORDER BY byte_offset LIMIT ${CHUNKS_PER_READ}`;
        if (rows.length === 0) return controller.close();
        for (const row of rows) {
          const data = row.data as Uint8Array;
          const skip = Math.max(0, next - num(row.byte_offset));
          controller.enqueue(
            new Uint8Array(data.buffer, data.byteOffset + skip, data.byteLength - skip),
          );
          next = num(row.byte_offset) + data.byteLength;
        }
      },
    });
  }

  append(id: string, offset: number, bytes: Uint8Array): Promise<number> {
    checkSessionId(id);
    checkOffset(offset);
    return this.inTransaction(async (tx) => {
      await tx`INSERT INTO recordings (session_id, size) VALUES (${id}, 0)
        ON CONFLICT (session_id) DO NOTHING`;
      const [{ size: stored }] = await tx`SELECT size FROM recordings
        WHERE session_id = ${id} FOR UPDATE`;
      const size = num(stored);
      checkAppendOffset(id, size, offset);
      const fresh = bytes.subarray(Math.min(size - offset, bytes.byteLength));
      if (fresh.byteLength === 0) return size;
      await tx`INSERT INTO recording_chunks (session_id, byte_offset, data)
        VALUES (${id}, ${size}, ${fresh})`;
      await tx`UPDATE recordings SET size = ${size + fresh.byteLength} WHERE session_id = ${id}`;
      return size + fresh.byteLength;
    });
  }
}
