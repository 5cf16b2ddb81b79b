/**
 * Shapes of the JSON the postern web API returns (`/v1/webapi/...`).
 *
 * @module
 */

/** The signed-in user's web session (login, invite completion, current session). */
export interface WebSession {
  user: string;
  cluster: string;
  csrf_token: string;
  expires: string;
  roles: string[];
  logins: string[];
  permissions: string[];
  /** Whether the user's roles allow file transfer (upload and download in the terminal). */
  file_transfer?: boolean;
}

/** Permissions a role may grant; the UI hides what the user cannot use. */
export type Permission =
  | "users"
  | "nodes"
  | "audit.read"
  | "sessions.join"
  | "sessions.replay"
  | "sessions.end";

/** One of the user's own browser sessions (Account page). */
export interface WebSessionInfo {
  id: string;
  created: string;
  last_seen: string;
  expires: string;
  current: boolean;
}

/** A security key or passkey of the signed-in user. */
export interface SecurityKey {
  id: string;
  name: string;
  created: string;
  last_used: string | null;
  /** Discoverable: signs in without a user name where passwordless sign-in is on. */
  passkey: boolean;
}

/** The second factors the signed-in user has set up (Account page). */
export interface SecondFactors {
  totp: boolean;
  keys: SecurityKey[];
}

/** A TOTP enrolment in progress: what the authenticator app needs. */
export interface TotpEnrolment {
  otpauth_uri: string;
  qr_data_url: string;
  secret: string;
}

/** An invite link's public description. */
export interface Invite {
  user: string;
  kind: "signup" | "reset";
  expires: string;
}

/** A registered node the user may see. */
export interface Node {
  name: string;
  addr: string;
  labels: Record<string, string>;
  logins: string[];
  /** Whether the node answered when the proxy last reached or probed it. */
  status?: "online" | "offline" | "unknown";
  /** When that was (ISO time); null before the first check. */
  status_checked?: string | null;
  /** Why it is offline. */
  status_reason?: string;
}

/** Someone attached to a live session. */
export interface Party {
  user: string;
  mode: string;
}

/** A live (joinable) session. */
export interface ActiveSession {
  id: string;
  user: string;
  login: string;
  node: string;
  kind: string;
  started: string;
  cols: number;
  rows: number;
  parties: Party[];
  /** How the signed-in user may join: a peer needs the session's login on the node. */
  join_modes: ("observer" | "peer")[];
}

/** A finished (or still running) recorded session. */
export interface Recording {
  id: string;
  user: string;
  login: string;
  node: string;
  kind: string;
  started: string;
  ended: string | null;
  exit_code: number | null;
}

/** A place in a recording where searched text was found. */
export interface RecordingSearchHit {
  recording: Recording;
  /** Seconds into the recording. */
  time: number;
  /** "o": the node's output; "i": what a user typed. */
  stream: "o" | "i";
  /** The matching line with up to one line before and after it. */
  context: string[];
  /** Which of `context` matched. */
  line: number;
}

/** One audit log event. */
export interface AuditEvent {
  id: string;
  time: string;
  code: string;
  user: string;
  remote_addr: string;
  success: boolean;
  fields: Record<string, unknown>;
}

/** A postern user as administrators see it. */
export interface User {
  name: string;
  roles: string[];
  logins: string[];
  status: "active" | "invited" | "locked";
  locked_until: string | null;
}

/** One user as their admin page shows them. */
export interface UserDetails extends User {
  created: string;
  /** The last successful sign-in, null when there was none. */
  last_login: { time: string; remote_addr: string | null } | null;
  /** Their web sessions that have not expired, the most recently active first. */
  web_sessions: { id: string; created: string; last_seen: string; expires: string }[];
}

/** Lists come wrapped in `{items: [...]}`. */
export interface Items<T> {
  items: T[];
}

/** A page of a longer list: `next_offset` is where the next page starts, null after the last. */
export interface Paged<T> extends Items<T> {
  next_offset: number | null;
}

/** The cluster as its auth server sees it (`GET .../status`, admins). */
export interface ClusterStatus {
  cluster: string;
  auth_version: string;
  proxy_version: string;
  store: { type: "sqlite" | "postgres"; ready: boolean; reason: string | null };
  auth_servers: { id: string; addr: string; version: string; started: string; last_seen: string }[];
  authorities: { kind: "user" | "host" | "tls"; fingerprint: string; created: string }[];
  proxies: { id: string; public_addr: string; ssh_public_addr: string; last_seen: string }[];
  counts: { users: number; nodes: number; live_sessions: number };
}
