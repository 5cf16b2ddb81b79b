/**
 * The text of an asciicast v2 recording, as the search index keeps it:
 * each line a terminal showed (output, "o") or a user typed (input, "i"),
 * without escape sequences, with the time it started. Recordings are read
 * as they grow, so the reader says up to which byte its lines are whole:
 * indexing stops there and starts again there when more has been written.
 *
 * @module
 */

import {
  MIN_PREFIX,
  type RecordingStream,
  type RecordingText,
  searchWords,
} from "../store/store.ts";
import { concatBytes } from "../net/bytes.ts";

/** One line of recorded text. */
export interface TextLine {
  stream: RecordingStream;
  /** Seconds into the recording when the line's first character came. */
  time: number;
  text: string;
}

/** Longer lines are cut: a screen of output without a newline is still found. */
const MAX_LINE = 1_000;
/** Lines per indexed piece, and its most characters. */
const PIECE_LINES = 64;
const PIECE_CHARS = 2_000;
/** Bytes read past the last whole line before the pending lines are cut there anyway. */
const MAX_UNSETTLED_BYTES = 256 << 10;

type EscapeState = "ground" | "escape" | "escape_arg" | "csi" | "string" | "string_escape";

/** CSI finals that move the cursor right on the same line: a gap between words. */
const CSI_GAP = new Set(["C", "G"]);
/** CSI finals that move the cursor to another line. */
const CSI_BREAK = new Set(["A", "B", "E", "F", "H", "d", "f"]);

/** One stream's text: its escape-sequence state and the line being written. */
class StreamText {
  #state: EscapeState = "ground";
  #line = "";
  #time = 0;

  constructor(private readonly stream: RecordingStream) {}

  /** True when no line is half written and no escape sequence half read. */
  get settled(): boolean {
    return this.#state === "ground" && this.#line.trim() === "";
  }

  /** Adds one event's data; lines it completes go to `out`. */
  feed(time: number, data: string, out: TextLine[]): void {
    for (const ch of data) {
      switch (this.#state) {
        case "ground":
          this.#ground(time, ch, out);
          break;
        case "escape":
          if (ch === "[") this.#state = "csi";
          else if ("]P_^X".includes(ch)) this.#state = "string";
          else if ("()*+#%".includes(ch)) this.#state = "escape_arg";
          else this.#state = "ground";
          break;
        case "escape_arg":
          this.#state = "ground";
          break;
        case "csi":
          if (ch >= "@" && ch <= "~") {
            this.#state = "ground";
            if (CSI_GAP.has(ch)) this.#add(time, " ");
            else if (CSI_BREAK.has(ch)) this.#end(out);
          }
          break;
        case "string":
          if (ch === "\x07") this.#state = "ground";
          else if (ch === "\x1b") this.#state = "string_escape";
          break;
        case "string_escape":
          this.#state = ch === "\\" ? "ground" : "string";
          break;
      }
    }
  }

  #ground(time: number, ch: string, out: TextLine[]): void {
    if (ch === "\x1b") this.#state = "escape";
    else if (ch === "\n" || ch === "\r") this.#end(out);
    else if (ch === "\b" || ch === "\x7f") this.#line = this.#line.slice(0, -1);
    else if (ch === "\t") this.#add(time, " ");
    else if (ch >= " " && !(ch >= "\x80" && ch <= "\x9f")) {
      this.#add(time, ch);
      if (this.#line.length >= MAX_LINE) this.#end(out);
    }
  }

  #add(time: number, text: string): void {
    if (this.#line.trim() === "" && text.trim() !== "") this.#time = time;
    this.#line += text;
  }

  /** Ends the line being written (a blank one is dropped). */
  #end(out: TextLine[]): void {
    const text = this.#line.trim().replace(/ {2,}/g, " ");
    if (text !== "") out.push({ stream: this.stream, time: this.#time, text });
    this.#line = "";
  }

  /** Ends whatever is pending: the recording ended, or it ran too long without a whole line. */
  flush(out: TextLine[]): void {
    this.#end(out);
    this.#state = "ground";
  }
}

/**
 * Reads an asciicast from some byte offset on, in chunks as they come.
 *
 * @example
 * ```ts
 * const reader = new RecordingTextReader(indexedBytes);
 * for await (const chunk of await store.recordings.open(id, indexedBytes)) reader.push(chunk);
 * const { lines, to } = reader.take({ final: sessionEnded });
 * ```
 */
export class RecordingTextReader {
  #streams = { o: new StreamText("o"), i: new StreamText("i") };
  #tail = new Uint8Array(0);
  /** Offset just past the last whole record read. */
  #offset: number;
  /** Lines read up to `#settledAt`, where both streams were settled. */
  #settled: TextLine[] = [];
  #settledAt: number;
  /** Lines read after `#settledAt`. */
  #pending: TextLine[] = [];
  #decoder = new TextDecoder();

  /** @param from the byte offset the bytes pushed start at */
  constructor(from: number) {
    this.#offset = from;
    this.#settledAt = from;
  }

  /** How many whole lines are ready to be taken. */
  get ready(): number {
    return this.#settled.length;
  }

  /** Reads the records in `bytes` (a record cut at the end waits for the next push). */
  push(bytes: Uint8Array): void {
    const data = this.#tail.length ? concatBytes(this.#tail, bytes) : bytes;
    let start = 0;
    for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
      this.#record(this.#decoder.decode(data.subarray(start, end)));
      this.#offset += end + 1 - start;
      start = end + 1;
      if (this.#streams.o.settled && this.#streams.i.settled) this.#settle();
      else if (this.#offset - this.#settledAt > MAX_UNSETTLED_BYTES) this.#settle(true);
    }
    this.#tail = data.slice(start);
  }

  /**
   * The lines read so far that are whole and the offset after them, where
   * the next read starts. With `final` (the recording is complete), the
   * lines still being written count as whole too.
   */
  take(options: { final: boolean }): { lines: TextLine[]; to: number } {
    if (options.final) this.#settle(true);
    const lines = this.#settled;
    this.#settled = [];
    return { lines, to: this.#settledAt };
  }

  #settle(force = false): void {
    if (force) {
      this.#streams.o.flush(this.#pending);
      this.#streams.i.flush(this.#pending);
    }
    this.#settled.push(...this.#pending);
    this.#pending = [];
    this.#settledAt = this.#offset;
  }

  /** One asciicast line: the header and events other than "o" and "i" say nothing to search. */
  #record(line: string): void {
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      return;
    }
    if (!Array.isArray(event) || event.length < 3) return;
    const [time, code, data] = event;
    if (typeof time !== "number" || typeof data !== "string") return;
    if (code === "o" || code === "i") {
      this.#streams[code as RecordingStream].feed(time, data, this.#pending);
    }
  }
}

/**
 * Groups lines into the pieces the index stores: consecutive lines of one
 * stream, a few at a time, so that a match comes with its neighbours.
 */
export function piecesOf(lines: TextLine[]): RecordingText[] {
  const pieces: RecordingText[] = [];
  let current: RecordingText | null = null;
  for (const line of lines) {
    if (
      !current || current.stream !== line.stream || current.times.length >= PIECE_LINES ||
      current.text.length + 1 + line.text.length > PIECE_CHARS
    ) {
      current = { stream: line.stream, text: line.text, times: [] };
      pieces.push(current);
    } else {
      current.text += "\n" + line.text;
    }
    current.times.push(Math.round(line.time * 1000) / 1000);
  }
  return pieces;
}

/** Where in a matched piece the words are: the line, its time and the lines around it. */
export interface TextHit {
  /** Seconds into the recording. */
  time: number;
  /** The matching line with up to one line before and after it. */
  context: string[];
  /** Which of `context` matched. */
  line: number;
}

/**
 * Finds the line of a matched piece that holds `words` (in order, the last
 * also as a prefix when long enough). A phrase split over two lines is reported at the line where
 * its first word is.
 */
export function locateHit(piece: RecordingText, words: string[]): TextHit {
  const lines = piece.text.split("\n");
  let at = lines.findIndex((line) => hasPhrase(searchWords(line), words));
  if (at === -1) at = Math.max(0, lines.findIndex((line) => searchWords(line).includes(words[0])));
  const first = Math.max(0, at - 1);
  return {
    time: piece.times[at] ?? piece.times[0] ?? 0,
    context: lines.slice(first, at + 2),
    line: at - first,
  };
}

function hasPhrase(lineWords: string[], words: string[]): boolean {
  const last = words.length - 1;
  const prefixes = words[last].length >= MIN_PREFIX;
  for (let start = 0; start + last < lineWords.length; start++) {
    let i = 0;
    while (i < last && lineWords[start + i] === words[i]) i++;
    const end = lineWords[start + last];
    if (i === last && (end === words[last] || prefixes && end.startsWith(words[last]))) return true;
  }
  return false;
}
