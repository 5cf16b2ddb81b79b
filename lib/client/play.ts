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
import { parseRecording } from "../session/asciicast.ts";

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
