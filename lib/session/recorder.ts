/**
 * Records a terminal session as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
 * a JSON header line, then one `[seconds, code, data]` line per event. Lines
 * are appended as they happen (batched only while a previous write is still
 * in flight), so a crash keeps everything up to the last output. A write that
 * fails (disk full, I/O error) stops the recording and is reported through
 * `onFailure`, never as an unhandled rejection: the session's owner ends the
 * session (recording fails closed).
 *
 * A recording may be capped (`maxBytes`): reaching the cap is a failure like
 * a full disk.
 *
 * Lines are encoded straight into pooled output buffers (output_buffers.ts)
 * that one write at a time sends while the next lines fill the other: a busy
 * session costs no allocation per line and no copy besides the encoding.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { recordingBytes, recordingWriteErrors } from "../metrics/metrics.ts";
import { writeAll } from "../net/bytes.ts";
import { OutputBuffers } from "../net/output_buffers.ts";

/** Header fields of a recording. */
export interface RecordingHeader {
  cols: number;
  rows: number;
  /** Start time. */
  started: Date;
  title?: string;
  env?: { TERM?: string; SHELL?: string };
}

/** Options of a recorder. */
export interface RecorderOptions {
  /** Also record input events. @default false */
  recordInput?: boolean;
  /** The recording fails once its file would grow past this (0: no limit). @default 0 */
  maxBytes?: number;
}

/** The failure of a recording that reached its size limit. */
export class RecordingLimitReached extends Error {
  constructor(readonly maxBytes: number) {
    super(`the recording reached its size limit of ${maxBytes} bytes`);
    this.name = "RecordingLimitReached";
  }
}

/**
 * Free bytes (for unprivileged users) on the disk holding `dir`.
 *
 * @returns the free bytes, or undefined where the system cannot say
 */
export async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

/** The most UTF-8 bytes one UTF-16 code unit encodes to. */
const MAX_BYTES_PER_UNIT = 3;
const NEWLINE = 0x0a;

/** Event codes of asciicast v2: output, input, resize, marker. */
export type EventCode = "o" | "i" | "r" | "m";

/** An asciicast v2 recording being written. */
export class AsciicastRecorder {
  #file: Deno.FsFile;
  #start: number;
  /** Encoded lines, newlines included, not yet written. */
  #output = new OutputBuffers();
  #writing: Promise<void> | undefined;
  #decoders = { o: new TextDecoder(), i: new TextDecoder() };
  #encoder = new TextEncoder();
  #closed = false;
  #fileClosed = false;
  #failure: Error | null = null;
  #onFailure: ((error: Error) => void) | undefined;
  #recordInput: boolean;
  #maxBytes: number;
  #fileBytes = 0;
  #events = 0;
  /** Bytes of terminal output recorded. */
  outputBytes = 0;

  private constructor(file: Deno.FsFile, start: number, options: RecorderOptions) {
    this.#file = file;
    this.#start = start;
    this.#recordInput = !!options.recordInput;
    this.#maxBytes = options.maxBytes || Infinity;
  }

  /**
   * Creates `path` (0600) and writes the header.
   *
   * @example
   * ```ts
   * const rec = await AsciicastRecorder.create("/tmp/s.cast", { cols: 80, rows: 24, started: new Date() });
   * rec.output(new TextEncoder().encode("hello\r\n"));
   * await rec.close();
   * ```
   */
  static async create(
    path: string,
    header: RecordingHeader,
    options: RecorderOptions = {},
  ): Promise<AsciicastRecorder> {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    return AsciicastRecorder.fromFile(file, header, options);
  }

  /**
   * Records into an open file (which the recorder closes) and writes the header.
   *
   * @example
   * ```ts
   * const file = await Deno.open("/tmp/s.cast", { write: true, create: true });
   * const rec = AsciicastRecorder.fromFile(file, { cols: 80, rows: 24, started: new Date() });
   * ```
   */
  static fromFile(
    file: Deno.FsFile,
    header: RecordingHeader,
    options: RecorderOptions = {},
  ): AsciicastRecorder {
    const recorder = new AsciicastRecorder(file, header.started.getTime(), options);
    recorder.#enqueue(JSON.stringify({
      version: 2,
      width: header.cols,
      height: header.rows,
      timestamp: Math.floor(header.started.getTime() / 1000),
      ...(header.title ? { title: header.title } : {}),
      env: header.env ?? {},
    }));
    return recorder;
  }

  /**
   * Calls `callback` once if a write fails (at once if one failed already);
   * from then on nothing more is recorded.
   */
  onFailure(callback: (error: Error) => void): void {
    this.#onFailure = callback;
    if (this.#failure) callback(this.#failure);
  }

  /** Records terminal output (bytes as received; UTF-8 split across chunks is handled). */
  output(data: Uint8Array): void {
    if (this.#closed) return;
    this.outputBytes += data.byteLength;
    this.#event("o", this.#decoders.o.decode(data, { stream: true }));
  }

  /** Records what a user typed, when input recording is on. */
  input(data: Uint8Array): void {
    if (this.#recordInput) this.#event("i", this.#decoders.i.decode(data, { stream: true }));
  }

  /** Records a terminal resize. */
  resize(cols: number, rows: number): void {
    this.#event("r", `${cols}x${rows}`);
  }

  #event(code: EventCode, data: string): void {
    if (this.#closed || data.length === 0) return;
    this.#eventAt(code, data);
  }

  #eventAt(code: EventCode, data: string): void {
    this.#events++;
    const seconds = Math.max(0, (performance.timeOrigin + performance.now() - this.#start) / 1000);
    this.#enqueue(JSON.stringify([Number(seconds.toFixed(6)), code, data]));
  }

  #enqueue(line: string): void {
    const room = this.#output.room(line.length * MAX_BYTES_PER_UNIT + 1);
    const { written } = this.#encoder.encodeInto(line, room);
    // Checked here, not when written: the owner hears of the limit at the
    // event that crosses it, and nothing after it is recorded or shown.
    this.#fileBytes += written + 1;
    if (this.#fileBytes > this.#maxBytes) {
      this.#closed = true;
      this.#fail(new RecordingLimitReached(this.#maxBytes));
      return;
    }
    room[written] = NEWLINE;
    this.#output.commit(written + 1);
    this.#writing ??= this.#drain();
  }

  /** Writes the output buffer until it stays empty; one file write per round. */
  async #drain(): Promise<void> {
    try {
      while (this.#output.length > 0) {
        // Lines enqueued meanwhile fill the other buffer.
        const batch = this.#output.takeBatch();
        await writeAll(this.#file, batch);
        recordingBytes.inc({}, batch.length);
      }
    } catch (error) {
      recordingWriteErrors.inc();
      this.#closed = true;
      this.#output.drop();
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#writing = undefined;
      this.#output.release();
    }
  }

  /** Reports the first failure; later ones follow from it. */
  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#onFailure?.(error);
  }

  /** Flushes and closes the file. Safe to call twice, and after a failure. */
  async close(): Promise<void> {
    if (!this.#closed) {
      const tail = this.#decoders.o.decode();
      if (tail) this.#event("o", tail);
      // A session without output still has a length: players refuse a
      // recording with no event at all.
      if (this.#events === 0) this.#eventAt("o", "");
      this.#closed = true;
    }
    while (this.#writing) await this.#writing;
    if (this.#fileClosed) return;
    this.#fileClosed = true;
    try {
      this.#file.close();
    } catch { /* closed already */ }
  }
}
