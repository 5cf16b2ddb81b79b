/**
 * Auth's recordings: one asciicast file per session in `<dataDir>/recordings`.
 * A proxy in the same process writes there directly; a proxy in another
 * process uploads each finished recording (`store`).
 *
 * @module
 */

import { join } from "node:path";
import { BadRequest, Conflict, NotFound } from "../errors.ts";

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The path of session `id`'s recording in `dir`; BadRequest when `id` is not a session id. */
export function recordingFile(dir: string, id: string): string {
  if (!SESSION_ID.test(id)) throw new BadRequest(`"${id}" is not a session id.`);
  return join(dir, `${id}.cast`);
}

/** The recordings directory of auth. */
export class RecordingFiles {
  constructor(readonly dir: string) {}

  /** The recording's bytes; NotFound when its file is missing. */
  async open(id: string): Promise<ReadableStream<Uint8Array>> {
    try {
      return (await Deno.open(recordingFile(this.dir, id))).readable;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new NotFound(`The recording file of session "${id}" is missing.`);
      }
      throw error;
    }
  }

  /** Writes an uploaded recording; Conflict when the session has one already. */
  async store(id: string, body: ReadableStream<Uint8Array>): Promise<void> {
    const path = recordingFile(this.dir, id);
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const partial = `${path}.${crypto.randomUUID()}.part`;
    try {
      await Deno.writeFile(partial, body, { mode: 0o600, createNew: true });
      // link() fails when the target exists: a recording is never replaced.
      await Deno.link(partial, path);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new Conflict(`Session "${id}" has a recording already.`);
      }
      throw error;
    } finally {
      await Deno.remove(partial).catch(() => {});
    }
  }
}
