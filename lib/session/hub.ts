/**
 * The live session hub: every proxy-terminated session (SSH `login:node@proxy`
 * or web terminal) is registered here, so others can list and join it. A
 * session fans its output out to every party and takes input from its owner
 * and from peers; observers only watch.
 *
 * A party that cannot keep up (more than {@linkcode MAX_PARTY_BACKLOG} bytes
 * queued) is disconnected rather than letting memory grow: the owner's own
 * backpressure is handled by the session's transport, never by dropping.
 *
 * @module
 */

import { Scrollback } from "./scrollback.ts";

/** How a party takes part. */
export type PartyMode = "owner" | "peer" | "observer";

/** Where a party's output goes: a WebSocket, an SSH channel, ... */
export interface PartySink {
  /** Delivers terminal output. */
  write(data: Uint8Array): void;
  /** Bytes queued but not yet sent (for slow-consumer protection). */
  backlog(): number;
  /** Tells the party about joins, leaves, resizes (optional). */
  notify?(event: SessionEvent): void;
  /** Ends the party's view with a reason shown to the user. */
  close(reason: string): void;
}

/** What parties are told about. */
export type SessionEvent =
  | { type: "party.join" | "party.leave"; user: string; mode: PartyMode }
  | { type: "resize"; cols: number; rows: number }
  /** `reason` when the proxy ended it (shutdown, revoked access, ...), not the command's exit. */
  | { type: "end"; exitCode: number | null; reason?: string };

/** Public facts about a live session. */
export interface LiveSessionInfo {
  id: string;
  user: string;
  login: string;
  node: string;
  kind: "ssh" | "web";
  started: Date;
  cols: number;
  rows: number;
  parties: { id: string; user: string; mode: PartyMode }[];
}

/** A party that joined a session. */
export interface Party {
  id: string;
  user: string;
  mode: PartyMode;
  sink: PartySink;
}

/** Bytes a non-owner party may have queued before it is disconnected. */
export const MAX_PARTY_BACKLOG = 8 * 1024 * 1024;
/** Recent output replayed to a party that joins, so it sees the current screen. */
const SCROLLBACK_BYTES = 64 * 1024;

/** One live session. */
export class LiveSession {
  readonly parties = new Map<string, Party>();
  #scrollback = new Scrollback(SCROLLBACK_BYTES);
  #ended = false;
  cols: number;
  rows: number;

  /**
   * @param info who, where and when
   * @param handlers where input and resizes from parties go (the node channel)
   */
  constructor(
    readonly info: Omit<LiveSessionInfo, "parties" | "cols" | "rows"> & {
      cols: number;
      rows: number;
    },
    readonly handlers: {
      input(data: Uint8Array): void;
      resize(cols: number, rows: number): void;
    },
  ) {
    this.cols = info.cols;
    this.rows = info.rows;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Output from the node: to every party. */
  output(data: Uint8Array): void {
    this.#scrollback.append(data);
    for (const party of this.parties.values()) {
      if (party.mode !== "owner" && party.sink.backlog() > MAX_PARTY_BACKLOG) {
        this.leave(party.id, "Disconnected: your connection could not keep up with the session.");
        continue;
      }
      party.sink.write(data);
    }
  }

  /** Input from a party; observers' input is ignored. */
  input(partyId: string, data: Uint8Array): void {
    const party = this.parties.get(partyId);
    if (!party || party.mode === "observer" || this.#ended) return;
    this.handlers.input(data);
  }

  /** A terminal size change from the owner (the node has one pty size). */
  resize(partyId: string, cols: number, rows: number): void {
    const party = this.parties.get(partyId);
    if (party?.mode !== "owner" || this.#ended) return;
    if (cols === this.cols && rows === this.rows) return;
    this.cols = cols;
    this.rows = rows;
    this.handlers.resize(cols, rows);
    this.#notify({ type: "resize", cols, rows });
  }

  /** Adds a party; it first receives recent output. A session that has ended closes it at once. */
  join(user: string, mode: PartyMode, sink: PartySink): Party {
    const party: Party = { id: crypto.randomUUID(), user, mode, sink };
    // Callers await (authorisation, audit) between finding a session and joining it;
    // one that ended meanwhile would otherwise leave the joiner waiting forever.
    if (this.#ended) {
      sink.close("The session has ended.");
      return party;
    }
    if (this.#scrollback.length > 0) sink.write(this.#scrollback.contents());
    this.parties.set(party.id, party);
    this.#notify({ type: "party.join", user, mode });
    return party;
  }

  /** Removes a party, optionally closing its view with a reason. */
  leave(partyId: string, reason?: string): void {
    const party = this.parties.get(partyId);
    if (!party) return;
    this.parties.delete(partyId);
    if (reason) party.sink.close(reason);
    this.#notify({ type: "party.leave", user: party.user, mode: party.mode });
  }

  /** Ends the session: every party is told (`reason`) and closed. */
  end(exitCode: number | null, reason?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#notify({ type: "end", exitCode, ...(reason ? { reason } : {}) });
    for (const party of this.parties.values()) party.sink.close(reason ?? "The session has ended.");
    this.parties.clear();
  }

  /**
   * An event as the proxy that runs the session reported it, for a mirror of
   * the session on another proxy: sizes follow, ends end, parties are told.
   */
  relay(event: SessionEvent): void {
    if (event.type === "end") return this.end(event.exitCode, event.reason);
    if (event.type === "resize") {
      this.cols = event.cols;
      this.rows = event.rows;
    }
    this.#notify(event);
  }

  #notify(event: SessionEvent): void {
    for (const party of this.parties.values()) party.sink.notify?.(event);
  }

  /** A snapshot for listings. */
  describe(): LiveSessionInfo {
    return {
      ...this.info,
      cols: this.cols,
      rows: this.rows,
      parties: [...this.parties.values()].map(({ id, user, mode }) => ({ id, user, mode })),
    };
  }
}

/** How the hub stops a session it holds: the node side is closed, and `done` settles once its end is recorded. */
export interface SessionControl {
  /** Closes the node side; parties are told `reason`. */
  terminate(reason: string): void;
  done: Promise<void>;
}

/** How long {@linkcode SessionHub.endAll} waits for sessions to record their end. */
const END_ALL_GRACE_MS = 5_000;

/** Registry of live sessions in this proxy. */
export class SessionHub {
  #sessions = new Map<string, LiveSession>();
  #controls = new Map<string, SessionControl>();

  /** Registers a session; it is removed when it ends. */
  add(session: LiveSession, control?: SessionControl): LiveSession {
    this.#sessions.set(session.info.id, session);
    if (control) this.#controls.set(session.info.id, control);
    return session;
  }

  /** Removes a session (after it ended). */
  remove(id: string): void {
    this.#sessions.delete(id);
    this.#controls.delete(id);
  }

  /** The live session with this id, if any. */
  get(id: string): LiveSession | undefined {
    return this.#sessions.get(id);
  }

  /** All live sessions. */
  list(): LiveSessionInfo[] {
    return [...this.#sessions.values()].map((s) => s.describe());
  }

  /**
   * Ends every session (proxy shutdown): each node side is closed and the hub
   * waits, a few seconds at most, until their ends are recorded.
   */
  async endAll(reason: string): Promise<void> {
    const pending = [...this.#sessions.entries()].map(([id, session]) => {
      const control = this.#controls.get(id);
      if (!control) {
        session.end(null, reason);
        return Promise.resolve();
      }
      control.terminate(reason);
      return control.done;
    });
    this.#sessions.clear();
    this.#controls.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, END_ALL_GRACE_MS));
    await Promise.race([Promise.allSettled(pending), grace]);
    clearTimeout(timer);
  }
}
