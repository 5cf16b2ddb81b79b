/**
 * postern's metrics: one registry per process, with every metric the code
 * updates declared here, so the full list (and its label values) is read in
 * one place. The few places that matter increment them directly; gauges that
 * describe the process (memory, event-loop lag, certificates) are read at
 * scrape time.
 *
 * Label values are fixed sets: connection kinds, error kinds, login methods,
 * Auth API call names. Never user names, addresses or session ids.
 *
 * @module
 */

import type { ErrorKind } from "../errors.ts";
import { VERSION } from "../version.ts";
import { Registry } from "./registry.ts";

/** Every metric of this process. */
export const registry = new Registry();

/**
 * What a connection through the proxy is: `ssh` (a gateway connection),
 * `ssh_session` (`login:node`), `ssh_tunnel` (`-J`, ProxyCommand),
 * `web_terminal`, `web_join` (joining a live session from the web),
 * `https_tunnel` (`postern proxy ssh` over the HTTPS port).
 */
export type ConnectionKind =
  | "ssh"
  | "ssh_session"
  | "ssh_tunnel"
  | "web_terminal"
  | "web_join"
  | "https_tunnel";

const CONNECTION_KINDS: ConnectionKind[] = [
  "ssh",
  "ssh_session",
  "ssh_tunnel",
  "web_terminal",
  "web_join",
  "https_tunnel",
];

/** How a user proved who they are. */
export type LoginMethod = "web" | "certificate" | "ssh";
/** What became of a login. */
export type LoginOutcome = "success" | "failure";
/** Which limit refused something. */
export type RateLimit =
  | "failures_per_address"
  | "ssh_connections"
  | "ssh_unauthenticated_per_address"
  | "sessions_per_connection";

/** Live connections through this proxy. */
export const connectionsActive = registry.gauge<"kind">({
  name: "postern_connections_active",
  help: "Connections and sessions through this proxy now, by kind.",
  labelNames: ["kind"],
  initial: CONNECTION_KINDS.map((kind) => ({ kind })),
});

/** Connections ever opened. */
export const connectionsTotal = registry.counter<"kind">({
  name: "postern_connections_total",
  help: "Connections and sessions opened through this proxy, by kind.",
  labelNames: ["kind"],
  initial: CONNECTION_KINDS.map((kind) => ({ kind })),
});

/** Errors users were shown, by protocol and kind. */
export const errorsTotal = registry.counter<"protocol" | "reason">({
  name: "postern_errors_total",
  help:
    "Requests, connections and channels refused or failed, by protocol (https, ssh) and reason (the error kind; internal for bugs).",
  labelNames: ["protocol", "reason"],
});

/** Bytes moved between users and nodes. */
export const relayedBytes = registry.counter<"kind" | "direction">({
  name: "postern_relayed_bytes_total",
  help:
    "Bytes relayed between users and nodes, by connection kind and direction (up: user to node, down: node to user).",
  labelNames: ["kind", "direction"],
});

/** Logins by method and outcome. */
export const logins = registry.counter<"method" | "outcome">({
  name: "postern_logins_total",
  help:
    "Logins by method (web: web session, certificate: certificate issued to postern login, ssh: certificate presented at the SSH gateway) and outcome.",
  labelNames: ["method", "outcome"],
  initial: (["web", "certificate", "ssh"] as const).flatMap((method) =>
    (["success", "failure"] as const).map((outcome) => ({ method, outcome }))
  ),
});

/** Accounts locked. */
export const lockouts = registry.counter<"cause">({
  name: "postern_lockouts_total",
  help: "Accounts locked, by cause (failed_logins, admin).",
  labelNames: ["cause"],
  initial: [{ cause: "failed_logins" }, { cause: "admin" }],
});

/** Refusals by a limit. */
export const rateLimited = registry.counter<"limit">({
  name: "postern_rate_limited_total",
  help: "Requests and connections refused by a limit, by limit.",
  labelNames: ["limit"],
  initial: (
    [
      "failures_per_address",
      "ssh_connections",
      "ssh_unauthenticated_per_address",
      "sessions_per_connection",
    ] as const
  ).map((limit) => ({ limit })),
});

/** Latency of Auth API calls made by this process. */
export const authApiDuration = registry.histogram<"call">({
  name: "postern_auth_api_request_duration_seconds",
  help: "Time of Auth API calls this process made, by call.",
  labelNames: ["call"],
});

/** Failed Auth API calls. */
export const authApiErrors = registry.counter<"call" | "reason">({
  name: "postern_auth_api_errors_total",
  help: "Auth API calls that failed, by call and reason (the error kind).",
  labelNames: ["call", "reason"],
});

/** Store latency. */
export const storeDuration = registry.histogram<"operation">({
  name: "postern_store_operation_duration_seconds",
  help:
    "Time of store operations (query: one statement, transaction: a whole transaction), waiting for a running transaction included.",
  labelNames: ["operation"],
});

/** Recording bytes written. */
export const recordingBytes = registry.counter({
  name: "postern_recording_bytes_total",
  help: "Bytes written to session recordings.",
  initial: [{}],
});

/** Recording write failures. */
export const recordingWriteErrors = registry.counter({
  name: "postern_recording_write_errors_total",
  help: "Session recordings that failed to write (disk full, I/O error); each ended its session.",
  initial: [{}],
});

/** When certificates this process presents expire. */
export const certificateExpiry = registry.gauge<"certificate">({
  name: "postern_certificate_expiry_timestamp_seconds",
  help:
    "When a certificate this process presents expires (Unix time), by certificate (tls: the HTTPS certificate, identity: the cluster identity).",
  labelNames: ["certificate"],
});

/** Event-loop lag, measured by a timer. */
export const eventLoopLag = registry.gauge({
  name: "postern_event_loop_lag_seconds",
  help: "How late the last event-loop lag probe timer fired.",
  initial: [{}],
});

registry.gauge({
  name: "process_resident_memory_bytes",
  help: "Resident memory size in bytes.",
  collect: (gauge) => gauge.set({}, Deno.memoryUsage().rss),
});

const START_TIME_SECONDS = Date.now() / 1000;
registry.gauge({
  name: "process_start_time_seconds",
  help: "Start time of the process since the Unix epoch in seconds.",
  initial: [{}],
  collect: (gauge) => gauge.set({}, START_TIME_SECONDS),
});

registry.gauge<"version">({
  name: "postern_build_info",
  help: "Always 1; the version label says which postern runs.",
  labelNames: ["version"],
  collect: (gauge) => gauge.set({ version: VERSION }, 1),
});

/**
 * Counts a connection of `kind` as open until the returned function is
 * called (calling it again does nothing).
 *
 * @example
 * ```ts
 * const closed = connectionOpened("ssh_tunnel");
 * try { await relayBytes(); } finally { closed(); }
 * ```
 */
export function connectionOpened(kind: ConnectionKind): () => void {
  connectionsActive.inc({ kind });
  connectionsTotal.inc({ kind });
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    connectionsActive.dec({ kind });
  };
}

/** Counts an error shown to a user: a PosternError's kind, `internal` for anything else. */
export function errorShown(protocol: "https" | "ssh", kind: ErrorKind | "internal"): void {
  errorsTotal.inc({ protocol, reason: kind });
}

/**
 * Measures event-loop lag every `intervalMs` until the returned function is
 * called: how much later than asked a timer fires.
 */
export function probeEventLoopLag(intervalMs = 1000): () => void {
  let expected = performance.now() + intervalMs;
  const timer = setInterval(() => {
    const now = performance.now();
    eventLoopLag.set({}, Math.max(0, now - expected) / 1000);
    expected = now + intervalMs;
  }, intervalMs);
  return () => clearInterval(timer);
}
