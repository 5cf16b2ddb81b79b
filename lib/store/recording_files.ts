/**
 * Recordings as files: one asciicast file per session in a directory. The
 * SQLite store keeps auth's recordings this way in `<dataDir>/recordings` (a
 * proxy in the same process writes there directly; a proxy of its own ships
 * each recording as it grows, `append`), and proxies spool running sessions
 * the same way.
 *
 * @module
 */

import { join } from "node:path";
import { BadRequest, Conflict, NotFound } from "../errors.ts";
import type { RecordingStore } from "./store.ts";

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Refuses (BadRequest) an `id` that is not a session id, before it names a file or a row. */
export function checkSessionId(id: string): void {
  if (!SESSION_ID.test(id)) throw new BadRequest(`"${id}" is not a session id.`);
}

/** The path of session `id`'s recording in `dir`; BadRequest when `id` is not a session id. */
export function recordingFile(dir: string, id: string): string {
  checkSessionId(id);
  return join(dir, `${id}.cast`);
}

/** Refuses (BadRequest) an `offset` that is not a byte position. */
export function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new BadRequest(`Recording offset ${offset} is not a byte position.`);
  }
}

/**
 * Refuses (Conflict) to write recording `id` at `offset` past its end,
 * `size`: the bytes between would be missing.
 */
export function checkAppendOffset(id: string, size: number, offset: number): void {
  if (offset > size) {
    throw new Conflict(`Recording "${id}" has ${size} bytes; cannot write at ${offset}.`);
  }
}

/** A directory of recordings. */
export class RecordingFiles implements RecordingStore {
  constructor(readonly dir: string) {}

  get localDir(): string {
    return this.dir;
  }

  /** The recording's bytes from byte `from`; NotFound when its file is missing. */
  async open(id: string, from = 0): Promise<ReadableStream<Uint8Array>> {
    checkOffset(from);
    try {
      const file = await Deno.open(recordingFile(this.dir, id));
      if (from > 0) await file.seek(from, Deno.SeekMode.Start);
      return file.readable;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new NotFound(`The recording file of session "${id}" is missing.`);
      }
      throw error;
    }
  }

  /**
   * Writes `bytes` at `offset` of the recording: the part before the current
   * end is skipped (sent again), a gap is refused.
   *
   * @returns the recording's size afterwards
   * @throws Conflict when `offset` is past the end
   */
  async append(id: string, offset: number, bytes: Uint8Array): Promise<number> {
    const path = recordingFile(this.dir, id);
    checkOffset(offset);
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    using file = await Deno.open(path, { create: true, write: true, mode: 0o600 });
    const size = (await file.stat()).size;
    checkAppendOffset(id, size, offset);
    const fresh = bytes.subarray(Math.min(size - offset, bytes.byteLength));
    await file.seek(size, Deno.SeekMode.Start);
    let written = 0;
    while (written < fresh.byteLength) written += await file.write(fresh.subarray(written));
    return size + fresh.byteLength;
  }
}
