/**
 * Reads asciicast v2 recordings (https://docs.asciinema.org/manual/asciicast/v2/),
 * the format `AsciicastRecorder` (./recorder.ts) writes: a JSON header line, then one
 * `[seconds, type, data]` line per event.
 *
 * The whole text is checked, so a damaged recording is reported (as BadRequest
 * naming the line) before anyone acts on part of it.
 *
 * @module
 */

import { BadRequest } from "../errors.ts";

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
  // `null` reads as "no limit": drop it so that readers need only check `undefined`.
  if (limit === null) delete fields.idle_time_limit;
  return header as AsciicastHeader;
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
