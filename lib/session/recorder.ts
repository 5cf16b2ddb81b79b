/**
 * Records a terminal session as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/):
 * a JSON header line, then one `[seconds, code, data]` line per event. Lines
 * are appended as they happen (batched only while a previous write is still
 * in flight), so a crash keeps everything up to the last output.
 *
 * @module
 */

/** Header fields of a recording. */
export interface RecordingHeader {
  cols: number;
  rows: number;
  /** Start time. */
  started: Date;
  title?: string;
  env?: { TERM?: string; SHELL?: string };
}

/** Event codes of asciicast v2: output, input, resize, marker. */
export type EventCode = "o" | "i" | "r" | "m";

/** An asciicast v2 recording being written. */
export class AsciicastRecorder {
  #file: Deno.FsFile;
  #start: number;
  #pending: string[] = [];
  #writing: Promise<void> | undefined;
  #decoders = { o: new TextDecoder(), i: new TextDecoder() };
  #encoder = new TextEncoder();
  #closed = false;
  #recordInput: boolean;
  /** Bytes of terminal output recorded. */
  outputBytes = 0;

  private constructor(file: Deno.FsFile, start: number, recordInput: boolean) {
    this.#file = file;
    this.#start = start;
    this.#recordInput = recordInput;
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
    options: { recordInput?: boolean } = {},
  ): Promise<AsciicastRecorder> {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    const recorder = new AsciicastRecorder(file, header.started.getTime(), !!options.recordInput);
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
    const seconds = Math.max(0, (performance.timeOrigin + performance.now() - this.#start) / 1000);
    this.#enqueue(JSON.stringify([Number(seconds.toFixed(6)), code, data]));
  }

  #enqueue(line: string): void {
    this.#pending.push(line);
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length) {
        const batch = this.#pending.join("\n") + "\n";
        this.#pending = [];
        const bytes = this.#encoder.encode(batch);
        let written = 0;
        while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
      }
    } finally {
      this.#writing = undefined;
    }
  }

  /** Flushes and closes the file. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const tail = this.#decoders.o.decode();
    if (tail) this.#event("o", tail);
    this.#closed = true;
    while (this.#writing) await this.#writing;
    this.#file.close();
  }
}
