/**
 * The proxy's recordings: where a running session's asciicast is written and
 * how it reaches auth. In one process the proxy writes straight into auth's
 * recordings directory. A proxy of its own writes into its data dir and
 * uploads each recording when its session ends (and, for any an outage left
 * behind, on start and every minute), so every proxy can replay it.
 *
 * @module
 */

import type { AuthService, UserProof } from "../auth/service.ts";
import { recordingFile } from "../auth/recording_files.ts";
import { isKind } from "../errors.ts";
import type { Logger } from "../log.ts";

/** How often recordings that could not be uploaded are tried again. */
const RETRY_MS = 60_000;

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
  #writing = new Set<string>();
  #retry?: ReturnType<typeof setInterval>;

  constructor(private readonly options: ProxyRecordingsOptions) {
    if (options.upload) {
      void this.uploadLeftovers();
      this.#retry = setInterval(() => void this.uploadLeftovers(), RETRY_MS);
    }
  }

  /** Where recordings are written while their sessions run. */
  get dir(): string {
    return this.options.dir;
  }

  /** The file session `id` records into; its directory exists. */
  async create(id: string): Promise<string> {
    await Deno.mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    this.#writing.add(id);
    return recordingFile(this.options.dir, id);
  }

  /** Session `id` ended and its recorder closed: its recording goes to auth. */
  async finish(id: string): Promise<void> {
    this.#writing.delete(id);
    if (this.options.upload) await this.#upload(id);
  }

  /** A recording's bytes: the copy on this proxy while it has one, else auth's. */
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

  /** Uploads the recordings of ended sessions still on this proxy. */
  async uploadLeftovers(): Promise<void> {
    let names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.options.dir)) names.push(entry.name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    names = names.filter((name) => name.endsWith(".cast"));
    for (const id of names.map((name) => name.slice(0, -".cast".length))) {
      if (!this.#writing.has(id)) await this.#upload(id);
    }
  }

  async #upload(id: string): Promise<void> {
    const path = recordingFile(this.options.dir, id);
    try {
      const file = await Deno.open(path);
      await this.options.auth.storeRecording(id, file.readable);
    } catch (error) {
      // Auth has it already (an upload whose answer was lost): the copy here is done.
      if (!isKind(error, "conflict")) {
        this.options.log.warn("cannot upload a recording to auth yet; will retry", {
          session_id: id,
          error: String(error),
        });
        return;
      }
    }
    await Deno.remove(path).catch(() => {});
  }

  /** Stops retrying uploads. */
  close(): void {
    clearInterval(this.#retry);
  }
}
