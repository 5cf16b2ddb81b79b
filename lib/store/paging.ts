/**
 * Page bounds for list queries, the same on every backend: a limit between 0
 * and {@linkcode MAX_LIMIT} (a default when none is given), an offset of at
 * least 0.
 *
 * @module
 */

/** The most rows one list query returns. */
export const MAX_LIMIT = 10_000;

/** `limit` made a whole number in [0, MAX_LIMIT]; `fallback` when absent or not finite. */
export function clampLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(Math.max(Math.trunc(limit), 0), MAX_LIMIT);
}

/** `offset` made a whole number of at least 0; 0 when absent or not finite. */
export function clampOffset(offset: number | undefined): number {
  if (offset === undefined || !Number.isFinite(offset)) return 0;
  return Math.max(Math.trunc(offset), 0);
}
