/**
 * A small declarative schema for the YAML config: each field knows its type,
 * default and documentation, so validation, defaults and the README's
 * configuration reference come from one place.
 *
 * Validation errors name the field path, the bad value and the expected form:
 * `proxy.web_listen_addr: "3080x" is not host:port`.
 *
 * @module
 */

import { BadRequest } from "../errors.ts";

/** One problem found in a config document. */
export class ConfigError extends BadRequest {
  constructor(readonly path: string, detail: string) {
    super(`${path}: ${detail}`);
  }
}

/** A field type: parses an untyped YAML value into T or throws ConfigError. */
export interface Field<T> {
  /** Human description of the expected form, e.g. "host:port". */
  readonly form: string;
  /** What the field does, for the configuration reference. */
  readonly doc: string;
  /** The value used when the field is absent. */
  readonly defaultValue: T;
  /** Parses `value` found at `path`. */
  parse(value: unknown, path: string): T;
  /** Nested fields, for objects (used to print the reference). */
  readonly fields?: Record<string, Field<unknown>>;
}

function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function basic<T>(
  form: string,
  doc: string,
  defaultValue: T,
  check: (value: unknown) => T | undefined,
): Field<T> {
  return {
    form,
    doc,
    defaultValue,
    parse(value, path) {
      const parsed = check(value);
      if (parsed === undefined) throw new ConfigError(path, `${quote(value)} is not ${form}`);
      return parsed;
    },
  };
}

/** A string, optionally restricted by a pattern. */
export function str(doc: string, defaultValue: string, pattern?: RegExp, form = "a string") {
  return basic(
    form,
    doc,
    defaultValue,
    (v) => typeof v === "string" && (!pattern || pattern.test(v)) ? v : undefined,
  );
}

/** An optional path or string; empty means unset. */
export function optionalStr(doc: string, form = "a string") {
  return basic<string | undefined>(
    form,
    doc,
    undefined,
    (v) => (typeof v === "string" && v.length > 0 ? v : undefined),
  );
}

/** A boolean. */
export function bool(doc: string, defaultValue: boolean) {
  return basic("true or false", doc, defaultValue, (v) => (typeof v === "boolean" ? v : undefined));
}

/** An integer within [min, max]. */
export function int(doc: string, defaultValue: number, min: number, max: number) {
  return basic(
    `an integer from ${min} to ${max}`,
    doc,
    defaultValue,
    (v) => (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : undefined),
  );
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(doc: string, defaultValue: T, choices: readonly T[]) {
  return basic(
    `one of ${choices.join(", ")}`,
    doc,
    defaultValue,
    (v) => (choices.includes(v as T) ? v as T : undefined),
  );
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/;

/** Splits "host:port" (IPv6 in brackets); undefined when malformed. */
export function parseHostPort(value: string): { hostname: string; port: number } | undefined {
  const match = HOST_PORT.exec(value);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 0 || port > 65535) return undefined;
  return { hostname: match[1].replace(/^\[|\]$/g, "") || "0.0.0.0", port };
}

/** A "host:port" listen or dial address. */
export function hostPort(doc: string, defaultValue: string) {
  return basic(
    "host:port",
    doc,
    defaultValue,
    (v) => typeof v === "string" && parseHostPort(v) ? v : undefined,
  );
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses "90s", "20m", "12h", "1h30m" into milliseconds; undefined when malformed. */
export function parseDuration(value: string): number | undefined {
  if (!/^(\d+(ms|s|m|h|d))+$/.test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)(ms|s|m|h|d)/g)) {
    total += Number(amount) * DURATION_UNITS[unit];
  }
  return total;
}

/** Formats milliseconds as the shortest duration string ("1h30m"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const unit of ["d", "h", "m", "s", "ms"]) {
    const size = DURATION_UNITS[unit];
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}

/** A positive duration like "30s", "20m", "12h"; parsed to milliseconds. */
export function duration(doc: string, defaultValue: string) {
  const parsedDefault = parseDuration(defaultValue);
  if (parsedDefault === undefined) throw new Error(`bad default duration ${defaultValue}`);
  return basic(
    "a duration like 30s, 20m or 12h",
    doc,
    parsedDefault,
    (v) => {
      const ms = typeof v === "string" ? parseDuration(v) : undefined;
      return ms !== undefined && ms > 0 ? ms : undefined;
    },
  );
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  tb: 1024 ** 4,
};

/** Parses "512kb", "100mb", "1gb" (powers of 1024) or a plain number of bytes. */
export function parseBytes(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = /^(\d+)\s*(b|kb|mb|gb|tb)?$/i.exec(value.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * BYTE_UNITS[(match[2] ?? "b").toLowerCase()];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A size like "512kb", "100mb" or "1gb"; parsed to bytes. */
export function byteSize(doc: string, defaultValue: string) {
  const parsedDefault = parseBytes(defaultValue);
  if (parsedDefault === undefined) throw new Error(`bad default size ${defaultValue}`);
  return basic("a size like 512kb, 100mb or 1gb", doc, parsedDefault, parseBytes);
}

/** Formats bytes in the largest unit that divides them ("100mb"). */
export function formatBytes(bytes: number): string {
  for (const unit of ["tb", "gb", "mb", "kb"]) {
    if (bytes > 0 && bytes % BYTE_UNITS[unit] === 0) return `${bytes / BYTE_UNITS[unit]}${unit}`;
  }
  return `${bytes}b`;
}

/** A list of items of one field type. */
export function list<T>(doc: string, item: Field<T>, defaultValue: T[] = []): Field<T[]> {
  return {
    form: `a list of ${item.form}`,
    doc,
    defaultValue,
    fields: item.fields,
    parse(value, path) {
      if (!Array.isArray(value)) throw new ConfigError(path, `${quote(value)} is not a list`);
      return value.map((entry, i) => item.parse(entry, `${path}[${i}]`));
    },
  };
}

/** A map from string keys to string values (e.g. labels). */
export function stringMap(doc: string, keyPattern = /^(\*|[A-Za-z0-9_.\/-]{1,63})$/) {
  return {
    form: "a map of name: value strings",
    doc,
    defaultValue: {} as Record<string, string>,
    parse(value: unknown, path: string): Record<string, string> {
      if (!isPlainObject(value)) throw new ConfigError(path, `${quote(value)} is not a map`);
      const out: Record<string, string> = {};
      for (const [key, entry] of Object.entries(value)) {
        if (!keyPattern.test(key)) {
          throw new ConfigError(`${path}.${key}`, `${quote(key)} is not a valid key`);
        }
        if (typeof entry !== "string" && typeof entry !== "number") {
          throw new ConfigError(`${path}.${key}`, `${quote(entry)} is not a string`);
        }
        out[key] = String(entry);
      }
      return out;
    },
  } satisfies Field<Record<string, string>>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type Parsed<F> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never };

/**
 * An object with known fields. Absent fields take their default; unknown fields
 * are errors, so a typo is never silently ignored. `required` names fields that
 * must be present (for list items such as nodes).
 */
export function object<F extends Record<string, Field<unknown>>>(
  doc: string,
  fields: F,
  required: (keyof F & string)[] = [],
): Field<Parsed<F>> {
  const defaults = Object.fromEntries(
    Object.entries(fields).map(([key, field]) => [key, field.defaultValue]),
  ) as Parsed<F>;
  return {
    form: "a map",
    doc,
    defaultValue: defaults,
    fields,
    parse(value, path) {
      const at = (key: string) => (path ? `${path}.${key}` : key);
      if (value === null || value === undefined) value = {};
      if (!isPlainObject(value)) {
        throw new ConfigError(path || "(top level)", `${quote(value)} is not a map`);
      }
      for (const key of Object.keys(value)) {
        if (!(key in fields)) {
          const known = Object.keys(fields).join(", ");
          throw new ConfigError(at(key), `unknown field (known fields: ${known})`);
        }
      }
      for (const key of required) {
        if (value[key] === undefined) throw new ConfigError(at(key), "is required");
      }
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(fields)) {
        const raw = value[key];
        out[key] = raw === undefined || raw === null
          ? field.defaultValue
          : field.parse(raw, at(key));
      }
      return out as Parsed<F>;
    },
  };
}
