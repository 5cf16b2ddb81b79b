/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Moments shown relative to now.
 *
 * @module
 */

import { formatRelative, formatTime } from "../format.ts";

/**
 * A past moment as "5 min ago", with the local date and time on hover.
 *
 * @example
 * ```tsx
 * <RelativeTime iso={session.last_seen} />
 * ```
 */
export function RelativeTime({ iso }: { iso: string }) {
  return <time dateTime={iso} title={formatTime(iso)}>{formatRelative(iso)}</time>;
}
