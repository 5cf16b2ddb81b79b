/**
 * The open-file limit the proxy runs under. Every connection holds a
 * descriptor (two for a tunnel or a proxy-terminated session), so a soft
 * `RLIMIT_NOFILE` of 1024 is reached long before `proxy.max_connections`.
 *
 * Deno itself raises the soft limit to the hard limit when it starts (its
 * runtime calls `raise_fd_limit`; measured with Deno 2.9.6: a soft limit of
 * 256 under a hard one of 20000 becomes 20000), and neither Deno nor its Node
 * compatibility offers `setrlimit`, so there is nothing left to raise from
 * here. What remains is to say, at start, when the hard limit itself is too
 * low for the configured connections: only the operator can raise it
 * (`LimitNOFILE=` in a systemd unit, `nofile` in limits.conf).
 *
 * @module
 */

import type { Logger } from "../log.ts";

/** Descriptors the process needs besides connections (store, logs, recordings, runtime). */
const BASE_DESCRIPTORS = 128;

/**
 * The soft and hard open-file limits, from `/proc/self/limits` (Linux).
 *
 * @returns the limits (Infinity for "unlimited"), or undefined where they cannot be read
 */
export function openFileLimit(): { soft: number; hard: number } | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/self/limits");
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!match) return undefined;
  const parse = (value: string) => value === "unlimited" ? Infinity : Number(value);
  return { soft: parse(match[1]), hard: parse(match[2]) };
}

/**
 * Logs the open-file limit, with a warning when it is too low for
 * `maxConnections` connections.
 *
 * @param maxConnections `proxy.max_connections`
 * @param log where to say it
 */
export function checkOpenFileLimit(maxConnections: number, log: Logger): void {
  const limit = openFileLimit();
  if (!limit) return;
  const needed = 2 * maxConnections + BASE_DESCRIPTORS;
  if (limit.soft < needed) {
    log.warn(
      "the open-file limit is lower than proxy.max_connections needs; raise the hard limit (LimitNOFILE= in systemd, nofile in limits.conf) or lower proxy.max_connections",
      { soft: limit.soft, hard: limit.hard, needed, max_connections: maxConnections },
    );
  } else {
    log.debug("open-file limit", { soft: limit.soft, hard: limit.hard });
  }
}
