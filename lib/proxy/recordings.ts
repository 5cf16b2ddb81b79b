/**
 * The proxy's recordings: where a running session's asciicast is written and
 * how it reaches auth. In one process the proxy writes straight into auth's
 * recordings directory. A proxy of its own writes a spool file in its data
 * dir and ships what is new to auth every second while the session runs, so
 * any proxy replays it, even during the session, and a proxy that dies loses
 * at most the last second. The spool is deleted once all of it is shipped; a
 * restarted proxy ships what an outage or a crash left behind (auth skips
 * what it has, so nothing is duplicated).
 *
 * @module
 */

import type { AuthService, UserProof } from "../auth/service.ts";
import { recordingFile } from "../store/recording_files.ts";
import type { Logger } from "../log.ts";

/** How often new output is shipped to auth. */
const SHIP_MS = 1_000;
/** Bytes per call: a base64 JSON body stays well under the Auth API's 1 MiB. */
const CHUNK_BYTES = 512 << 10;
/** How often spools left by a crash or an outage are tried again. */
const LEFTOVER_MS = 60_000;

/** Options of {@linkcode ProxyRecordings}. */
export interface ProxyRecordingsOptions {
  /** Where recordings are written while their sessions run. */
  dir: string;
  /** False when `dir` is auth's own recordings directory (one process). */
  upload: boolean;
  auth: AuthService;
  log: Logger;
}

/** Recordings as the proxy writes and replays them. */
export class ProxyRecordings {
  /** Sessions recording now, with the bytes auth holds of each. */
  #shipped = new Map<string, number>();
  #shipping = false;
  #timers: ReturnType<typeof setInterval>[] = [];
  #failing = false;

  constructor(private readonly options: ProxyRecordingsOptions) {
    if (options.upload) {
      void this.shipLeftovers();
      this.#timers.push(
        setInterval(() => void this.#shipLive(), SHIP_MS),
        setInterval(() => void this.shipLeftovers(), LEFTOVER_MS),
      );
    }
  }

  /** Where recordings are written while their sessions run. */
  get dir(): string {
    return this.options.dir;
  }

  /** The file session `id` records into; its directory exists. */
  async create(id: string): Promise<string> {
    await Deno.mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    if (this.options.upload) this.#shipped.set(id, 0);
    return recordingFile(this.options.dir, id);
  }

  /** Session `id` ended and its recorder closed: the rest goes to auth, then the spool goes. */
  async finish(id: string): Promise<void> {
    if (!this.options.upload) return;
    const from = this.#shipped.get(id) ?? 0;
    this.#shipped.delete(id);
    if (await this.#ship(id, from, { complete: true }) !== null) await this.#removeSpool(id);
  }

  /** A recording's bytes: the spool on this proxy while it has one, else auth's. */
  async open(proof: UserProof, id: string): Promise<ReadableStream<Uint8Array>> {
    if (this.options.upload) {
      try {
        return (await Deno.open(recordingFile(this.options.dir, id))).readable;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    return await this.options.auth.openRecording(proof, id);
  }

  /** Ships the spools of sessions that are not running here (left by a crash or an outage). */
  async shipLeftovers(): Promise<void> {
    let names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.options.dir)) names.push(entry.name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    names = names.filter((name) => name.endsWith(".cast"));
    for (const id of names.map((name) => name.slice(0, -".cast".length))) {
      if (this.#shipped.has(id)) continue;
      if (await this.#ship(id, 0, { complete: true }) !== null) await this.#removeSpool(id);
    }
  }

  /** Ships what is new of every running session. */
  async #shipLive(): Promise<void> {
    if (this.#shipping) return;
    this.#shipping = true;
    try {
      for (const [id, from] of this.#shipped) {
        const size = await this.#ship(id, from, { complete: false });
        if (size !== null && this.#shipped.has(id)) this.#shipped.set(id, size);
      }
    } finally {
      this.#shipping = false;
    }
  }

  /**
   * Sends the spool of `id` from byte `from` to its end.
   *
   * @returns the size auth holds, or null when it failed (tried again later)
   */
  async #ship(id: string, from: number, how: { complete: boolean }): Promise<number | null> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(recordingFile(this.options.dir, id));
    } catch {
      return null;
    }
    try {
      let offset = from;
      await file.seek(offset, Deno.SeekMode.Start);
      const buffer = new Uint8Array(CHUNK_BYTES);
      for (;;) {
        const read = await file.read(buffer);
        if (read === null || read === 0) break;
        offset = await this.options.auth.appendRecording(id, offset, buffer.slice(0, read));
      }
      if (this.#failing) this.options.log.info("shipping recordings to auth again");
      this.#failing = false;
      return offset;
    } catch (error) {
      // Once per outage, not every second.
      if (!this.#failing || how.complete) {
        this.options.log.warn("cannot ship a recording to auth yet; will retry", {
          session_id: id,
          error: String(error),
        });
      }
      this.#failing = true;
      return null;
    } finally {
      file.close();
    }
  }

  async #removeSpool(id: string): Promise<void> {
    await Deno.remove(recordingFile(this.options.dir, id)).catch(() => {});
  }

  /** Stops shipping. */
  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
  }
}
