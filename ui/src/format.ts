/**
 * Formatting and parsing helpers shared by pages: times, durations, comma
 * lists and `key=value` labels.
 *
 * @module
 */

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** A local, human-readable time; the ISO text when it cannot be parsed. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** "1h 2m 3s" for a number of seconds. */
export function formatSeconds(total: number): string {
  const seconds = Math.max(0, Math.round(total));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h}h ${m}m ${s}s`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Duration between two ISO times, or null when either is missing. */
export function durationBetween(start: string, end: string | null): string | null {
  if (!end) return null;
  const ms = new Date(end).getTime() - new Date(start).getTime();
  return Number.isNaN(ms) ? null : formatSeconds(ms / 1000);
}

/** "3 min ago", "in 2 h": coarse relative time for session lists. */
export function formatRelative(iso: string, now = Date.now()): string {
  const ms = new Date(iso).getTime() - now;
  if (Number.isNaN(ms)) return iso;
  const abs = Math.abs(ms);
  const units: [number, string][] = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "min"]];
  for (const [size, unit] of units) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      return ms < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
    }
  }
  return ms < 0 ? "just now" : "in under a minute";
}

/** Splits "a, b,,c" into ["a", "b", "c"]. */
export function parseList(text: string): string[] {
  return text.split(/[,\s]+/).map((part) => part.trim()).filter(Boolean);
}

/** The result of {@link parseLabels}. */
export type ParsedLabels =
  | { ok: true; labels: Record<string, string> }
  | { ok: false; message: string };

/**
 * Parses "env=prod, team=db" into a label map.
 *
 * @example
 * ```ts
 * parseLabels("env=prod,team=db"); // {ok: true, labels: {env: "prod", team: "db"}}
 * ```
 */
export function parseLabels(text: string): ParsedLabels {
  const labels: Record<string, string> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) {
      return { ok: false, message: `Cannot read label "${part}": write it as key=value.` };
    }
    labels[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return { ok: true, labels };
}

/** Label map as sorted `key=value` strings. */
export function labelPairs(labels: Record<string, string>): string[] {
  return Object.keys(labels).sort().map((key) => `${key}=${labels[key]}`);
}
