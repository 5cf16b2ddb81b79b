/**
 * Page bounds for list queries, the same on every backend: a limit between 0
 * and {@linkcode MAX_LIMIT} (a default when none is given), an offset of at
 * least 0; and the limit of a search of the recordings' text.
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

/** The most matches one search of the recordings' text returns. */
export const MAX_SEARCH_LIMIT = 1_000;

/** A search's `limit` made a whole number in [0, MAX_SEARCH_LIMIT]; 50 when absent. */
export function clampSearchLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.trunc(limit ?? 50), 0), MAX_SEARCH_LIMIT);
}
