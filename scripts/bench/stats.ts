/**
 * Small helpers shared by the benchmarks: medians and percentiles, MB/s,
 * text tables, and timing a process to completion.
 *
 * @module
 */

/**
 * The value at percentile `p` (nearest rank) of `values`.
 *
 * @param values samples, in any order
 * @param p percentile, 0–100
 * @returns the sample at that rank; NaN when there are none
 * @example
 * ```ts
 * percentile([3, 1, 2], 50); // 2
 * ```
 */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/**
 * The median of `values` (mean of the middle two for an even count).
 *
 * @param values samples, in any order
 * @returns the median; NaN when there are none
 * @example
 * ```ts
 * median([4, 1, 3, 2]); // 2.5
 * ```
 */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Megabytes (10^6 bytes) per second.
 *
 * @param bytes bytes moved
 * @param ms milliseconds it took
 * @returns MB/s, or NaN when `ms` is not positive
 * @example
 * ```ts
 * mbps(100e6, 1000); // 100
 * ```
 */
export function mbps(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e6 / (ms / 1000) : NaN;
}

/**
 * Rounds for display and JSON.
 *
 * @param n the number
 * @param digits decimals kept
 * @returns the rounded number (NaN stays NaN)
 * @example
 * ```ts
 * round(1.234, 1); // 1.2
 * ```
 */
export function round(n: number, digits = 1): number {
  return Number.isFinite(n) ? Number(n.toFixed(digits)) : NaN;
}

/**
 * Lays out rows as a text table; numbers are right-aligned, the first row is
 * the header and is followed by a rule.
 *
 * @param rows header row, then data rows
 * @returns the table, one line per row
 * @example
 * ```ts
 * console.log(formatTable([["path", "MB/s"], ["direct", "210"]]));
 * ```
 */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const numeric = /^[-+]?[\d.]+(?:\s*(?:×|ms|MB\/s|%))?$|^—$/;
  const line = (row: string[]) =>
    row.map((cell, i) =>
      i > 0 && numeric.test(cell) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])
    ).join("  ").trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)]
    .join("\n");
}

/** Output of {@link timeCommand}. */
export interface Timed {
  /** Wall time from spawn to exit, in ms. */
  ms: number;
  /** Standard output, when it was captured. */
  stdout: string;
}

/**
 * Runs `bash -c script` and measures its wall time from spawn to exit.
 *
 * @param script the shell script
 * @param options extra environment; `captureStdout` to keep stdout (otherwise discarded)
 * @returns wall time and stdout
 * @throws Error with the script's stderr when it exits non-zero
 * @example
 * ```ts
 * const { ms } = await timeCommand("true");
 * ```
 */
export async function timeCommand(
  script: string,
  options: { env?: Record<string, string>; captureStdout?: boolean } = {},
): Promise<Timed> {
  const started = performance.now();
  const output = await new Deno.Command("bash", {
    args: ["-c", script],
    env: options.env,
    stdin: "null",
    stdout: options.captureStdout ? "piped" : "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (output.code !== 0) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(`Cannot run \`${script}\`: exit ${output.code}: ${stderr.slice(-2000)}`);
  }
  return { ms, stdout: options.captureStdout ? new TextDecoder().decode(output.stdout) : "" };
}

/**
 * Quotes `value` for a POSIX shell.
 *
 * @param value any string
 * @returns the string in single quotes, inner quotes escaped
 * @example
 * ```ts
 * shellQuote("it's"); // 'it'\''s'
 * ```
 */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The 1-, 5- and 15-minute load averages, from /proc/loadavg.
 *
 * @returns the three averages, or null where /proc is not available
 * @example
 * ```ts
 * console.log(loadAverage());
 * ```
 */
export function loadAverage(): [number, number, number] | null {
  try {
    const [one, five, fifteen] = Deno.readTextFileSync("/proc/loadavg").split(" ").map(Number);
    return [one, five, fifteen];
  } catch {
    return null;
  }
}

/** The machine's idle and total CPU time so far (all cores), from /proc/stat, in clock ticks. */
function machineTicks(): { idle: number; total: number } {
  const fields = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  // idle and iowait, beside every state.
  return { idle: fields[3] + fields[4], total: fields.reduce((a, b) => a + b, 0) };
}

/**
 * Waits until the machine's cores were at least `idleShare` idle over one
 * second (at most `timeoutMs`): what an earlier section left running (ssh
 * processes exiting, a memory-reducing collection, indexing) would
 * otherwise be timed with the next section.
 *
 * @param idleShare the share of the cores' time that must be idle
 * @param timeoutMs the longest wait
 * @returns the idle share of the last second
 * @example
 * ```ts
 * await machineQuiet(0.9);
 * ```
 */
export async function machineQuiet(idleShare: number, timeoutMs = 60_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const before = machineTicks();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = machineTicks();
    const idle = (after.idle - before.idle) / Math.max(1, after.total - before.total);
    if (idle >= idleShare || performance.now() >= deadline) return idle;
  }
}

/**
 * CPU time (user + system) a process has used so far, from /proc/<pid>/stat.
 *
 * @param pid the process
 * @returns milliseconds, in steps of 10 (Linux counts in USER_HZ, 100 a second)
 * @example
 * ```ts
 * const before = processCpuMs(pid);
 * ```
 */
export function processCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
