/**
 * Structured logging: human-readable lines by default, JSON lines with
 * `--log-format json`, each with `ts`, `level`, `msg` and `component`.
 * Callers pass fields, never secrets. {@linkcode withLogFields} adds fields
 * (a request id) to every line written while a piece of work runs, so the
 * lines of one request can be found together.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Output format. */
export type LogFormat = "text" | "json";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A logger bound to a component name. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines carry `component`. */
  child(component: string): Logger;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** The lowest level written; a function is asked at each line (a level reloaded on SIGHUP). @default "info" */
  level?: LogLevel | (() => LogLevel);
  /** @default "text" */
  format?: LogFormat;
  /** Where lines go. @default stderr */
  write?: (line: string) => void;
}

const context = new AsyncLocalStorage<LogFields>();

/**
 * Runs `fn` with `fields` added to every line logged meanwhile, across awaits.
 *
 * @example
 * ```ts
 * await withLogFields({ request_id: "4f9c0a1e" }, () => handle(request));
 * ```
 */
export function withLogFields<T>(fields: LogFields, fn: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, fn);
}

const encoder = new TextEncoder();
function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function renderValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return /^[^\s"=]+$/.test(text ?? "") ? text : JSON.stringify(text);
}

/**
 * Creates a logger.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "info" }).child("web");
 * log.info("listening", { addr: "0.0.0.0:3080" });
 * ```
 */
export function createLogger(options: LoggerOptions = {}, component?: string): Logger {
  const threshold = options.level ?? "info";
  const min = () => ORDER[typeof threshold === "function" ? threshold() : threshold];
  const format = options.format ?? "text";
  const write = options.write ?? writeStderr;
  const emit = (level: LogLevel, message: string, ownFields: LogFields = {}) => {
    if (ORDER[level] < min()) return;
    const time = new Date().toISOString();
    const fields = { ...context.getStore(), ...ownFields };
    if (format === "json") {
      // The fixed keys first; a field of the same name cannot replace them.
      const entry: LogFields = { ts: time, level, component: component ?? "main", msg: message };
      for (const [key, value] of Object.entries(fields)) {
        if (!(key in entry)) entry[key] = value instanceof Error ? value.message : value;
      }
      write(JSON.stringify(entry));
      return;
    }
    const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${renderValue(v)}`).join("");
    const where = component ? ` [${component}]` : "";
    write(`${time} ${level.toUpperCase().padEnd(5)}${where} ${message}${extra}`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (name) => createLogger(options, component ? `${component}.${name}` : name),
  };
}
