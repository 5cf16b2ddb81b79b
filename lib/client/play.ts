/**
 * `postern play`: replays an asciicast v2 recording
 * (https://docs.asciinema.org/manual/asciicast/v2/) in the terminal with its
 * original timing, like `asciinema play`.
 *
 * - Output (`"o"`) events are written as UTF-8, each at its time divided by the
 *   speed. Pauses longer than the idle limit are shortened to it first (in
 *   recording time, as asciinema's `idle_time_limit`), then the speed applies.
 * - Input (`"i"`), marker (`"m"`) and unknown event types are skipped.
 * - Resize (`"r"`) events write nothing: the escape sequence that would resize
 *   the window (`CSI 8;rows;cols t`) would resize the viewer's real terminal, which
 *   most terminals refuse and the rest should not be made to do.
 * - Events closer together than {@link MIN_SLEEP_MS} are written together in one
 *   `write`, which keeps long bursts of output fast without losing time: the
 *   skipped pauses are added to the next one.
 *
 * The whole file is parsed before anything is written, so a damaged recording is
 * reported (as BadRequest naming the line) without half-playing it.
 *
 * @module
 */

import { BadRequest } from "../errors.ts";

/**
 * Pauses shorter than this are not slept but carried over to the next event
 * (a 60 Hz frame is ~16 ms; this stays below it).
 */
export const MIN_SLEEP_MS = 10;

/** Default cap on pauses, in recording milliseconds (asciinema's common `idle_time_limit`). */
export const DEFAULT_MAX_IDLE_MS = 2000;

/** Options of {@link playRecording}. */
export interface PlayOptions {
  /**
   * Playback speed: 2 plays twice as fast. Must be a positive number.
   * @default {1}
   */
  speed?: number;
  /** Receives terminal output, in order; playback waits for each write. */
  write: (data: Uint8Array) => Promise<void> | void;
  /** Stops playback (e.g. on Ctrl-C); the result then says `aborted: true`. */
  signal?: AbortSignal;
  /**
   * Longest pause kept, in recording milliseconds, before the speed applies;
   * `Infinity` keeps every pause. Positive.
   * @default the header's `idle_time_limit` when the file has one, else 2000
   */
  maxIdleMs?: number;
  /**
   * Waits `ms` milliseconds, or less when `signal` aborts. Injected by tests.
   * @default a timer that an abort cuts short
   */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What {@link playRecording} did. */
export interface PlayResult {
  /** Output events written. */
  events: number;
  /**
   * Playback time in milliseconds as scheduled: the sum of the (capped, speed
   * scaled) pauses up to where playback ended. Real time adds timer overshoot.
   */
  durationMs: number;
  /** True when the signal stopped playback before the end. */
  aborted: boolean;
}

/** The header line of an asciicast v2 file (fields postern reads). */
export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp?: number;
  idle_time_limit?: number;
  title?: string;
  env?: Record<string, string>;
}

/** One event line: seconds since the start, event type, data. */
export type AsciicastEvent = [time: number, type: string, data: string];

/** A parsed asciicast v2 recording. */
export interface ParsedRecording {
  header: AsciicastHeader;
  events: AsciicastEvent[];
}

/**
 * Plays a recording with its timing through `write`.
 *
 * @param text the asciicast v2 file's content
 * @param options writer, speed, idle cap, abort signal, injected sleep
 * @returns events written, scheduled duration, whether it was aborted
 * @throws {BadRequest} when the file is not asciicast v2 (the message names the
 *   line) or an option is out of range; nothing is written then
 * @example
 * ```ts
 * const controller = new AbortController();
 * Deno.addSignalListener("SIGINT", () => controller.abort());
 * const result = await playRecording(await Deno.readTextFile("s.cast"), {
 *   speed: 2,
 *   write: (data) => Deno.stdout.write(data).then(() => {}),
 *   signal: controller.signal,
 * });
 * ```
 */
export async function playRecording(text: string, options: PlayOptions): Promise<PlayResult> {
  const speed = options.speed ?? 1;
  if (typeof speed !== "number" || !(speed > 0) || !Number.isFinite(speed)) {
    throw new BadRequest(
      `Cannot play recording: speed must be a positive number, got ${JSON.stringify(speed)}`,
    );
  }
  const { header, events } = parseRecording(text);
  const maxIdleMs = options.maxIdleMs ??
    (header.idle_time_limit !== undefined ? header.idle_time_limit * 1000 : DEFAULT_MAX_IDLE_MS);
  if (typeof maxIdleMs !== "number" || !(maxIdleMs > 0)) {
    throw new BadRequest(
      `Cannot play recording: the idle limit must be a positive number of milliseconds, got ${
        JSON.stringify(maxIdleMs)
      }`,
    );
  }
  const sleep = options.sleep ?? abortableSleep;
  const signal = options.signal;
  const encoder = new TextEncoder();

  let written = 0;
  let durationMs = 0;
  let owedMs = 0; // scheduled pause not slept yet
  let previousTime = 0;
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const data = encoder.encode(batch.join(""));
    batch = [];
    await options.write(data);
  };

  for (const [time, type, data] of events) {
    // Once aborted nothing more is written, not even output already batched.
    if (signal?.aborted) return { events: written - batch.length, durationMs, aborted: true };
    // Recordings glued together may go back in time: treat that as no pause.
    const gapMs = Math.max(0, time - previousTime) * 1000;
    previousTime = Math.max(previousTime, time);
    owedMs += Math.min(gapMs, maxIdleMs) / speed;
    if (type !== "o" || data === "") continue;
    if (owedMs >= MIN_SLEEP_MS) {
      await flush();
      await sleep(owedMs, signal);
      // What was batched has been written; the interrupted pause is not counted.
      if (signal?.aborted) return { events: written, durationMs, aborted: true };
      durationMs += owedMs;
      owedMs = 0;
    }
    batch.push(data);
    written++;
  }
  await flush();
  // Pauses after the last output (trailing input or resize events) are not waited for.
  return { events: written, durationMs, aborted: false };
}

/**
 * Parses and checks an asciicast v2 file.
 *
 * Blank lines are skipped; line numbers in errors count every line from 1.
 *
 * @param text the file's content
 * @returns the header and the events in file order
 * @throws {BadRequest} naming the first line that is not valid asciicast v2
 * @example
 * ```ts
 * const { header, events } = parseRecording(await Deno.readTextFile("s.cast"));
 * console.log(`${header.width}x${header.height}, ${events.length} events`);
 * ```
 */
export function parseRecording(text: string): ParsedRecording {
  const lines = text.split("\n");
  let index = lines.findIndex((line) => line.trim() !== "");
  if (index < 0) throw new BadRequest("Cannot play recording: the file is empty");
  const header = parseHeader(lines[index], index + 1);
  const events: AsciicastEvent[] = [];
  for (index++; index < lines.length; index++) {
    if (lines[index].trim() === "") continue;
    events.push(parseEvent(lines[index], index + 1));
  }
  return { header, events };
}

function parseHeader(line: string, lineNumber: number): AsciicastHeader {
  const fail = (problem: string): never => {
    throw new BadRequest(`Cannot play recording: line ${lineNumber}: ${problem}`);
  };
  let header: unknown;
  try {
    header = JSON.parse(line);
  } catch {
    fail("the header is not JSON; is this an asciicast file?");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return fail("the header is not a JSON object; is this an asciicast file?");
  }
  const fields = header as Record<string, unknown>;
  if (fields.version !== 2) {
    const version = JSON.stringify(fields.version ?? null);
    return fail(`asciicast version ${version} is not supported, only version 2`);
  }
  for (const name of ["width", "height"]) {
    const value = fields[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      fail(`the header's ${name} must be a positive integer, got ${JSON.stringify(value ?? null)}`);
    }
  }
  const limit = fields.idle_time_limit;
  if (limit !== undefined && limit !== null && (typeof limit !== "number" || !(limit > 0))) {
    fail(`the header's idle_time_limit must be a positive number, got ${JSON.stringify(limit)}`);
  }
  return { ...fields, idle_time_limit: limit ?? undefined } as AsciicastHeader;
}

function parseEvent(line: string, lineNumber: number): AsciicastEvent {
  const fail = (problem: string): never => {
    throw new BadRequest(`Cannot play recording: line ${lineNumber}: ${problem}`);
  };
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    fail("not valid JSON (is the file cut short or damaged?)");
  }
  if (!Array.isArray(event) || event.length < 3) {
    return fail('expected an event like [1.5, "o", "text"]');
  }
  const [time, type, data] = event;
  if (typeof time !== "number" || !Number.isFinite(time) || time < 0) {
    fail(`the event time must be a non-negative number of seconds, got ${JSON.stringify(time)}`);
  }
  if (typeof type !== "string" || type === "") {
    fail(`the event type must be a string such as "o", got ${JSON.stringify(type)}`);
  }
  if (typeof data !== "string") {
    fail(`the event data must be a string, got ${JSON.stringify(data)}`);
  }
  return [time, type, data];
}

/** setTimeout that resolves early, without rejecting, when `signal` aborts. */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
