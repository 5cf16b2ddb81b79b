/// <reference lib="dom" />
/**
 * Glue between xterm.js and the terminal WebSocket
 * (`/v1/webapi/sites/<cluster>/connect`): binary frames carry terminal bytes
 * both ways, text frames carry JSON control messages.
 *
 * @module
 */

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { type ISearchOptions, SearchAddon } from "@xterm/addon-search";
import { WebLinksAddon } from "@xterm/addon-web-links";
import { sitePath } from "./api.ts";
import { copyText } from "./clipboard.ts";
import type { Party } from "./types.ts";

/** What to connect to: a new session on a node, or an existing one. */
export type TerminalTarget =
  | { kind: "new"; node: string; login: string }
  | { kind: "join"; sessionId: string; mode: JoinMode };

/** How a user joins someone else's session. */
export type JoinMode = "observer" | "peer";

/** The connection as the user should understand it. */
export type ConnectionState =
  | { status: "connecting" }
  | { status: "connected" }
  /** `reason` when it was not the command's exit: node lost, proxy shutdown, access revoked. */
  | { status: "ended"; exitCode: number | null; reason?: string }
  | { status: "disconnected"; reason: string }
  | { status: "error"; message: string; kind?: string };

/** What the server says about the session once attached. */
export interface SessionInfo {
  id: string;
  node: string;
  login: string;
  mode: string;
}

/** Callbacks from a {@link WebTerminal}. */
export interface TerminalEvents {
  onState(state: ConnectionState): void;
  onSession(info: SessionInfo): void;
  onParties(parties: Party[]): void;
  /** The user pressed Ctrl+Shift+F in the terminal: show the search box. */
  onFind?(): void;
  /** The shell said which directory it is in (OSC 7, as many shells can be set up to). */
  onDirectory?(path: string): void;
}

/** The directory of an OSC 7 report (`file://host/path`), or null when it is not one. */
export function directoryFromOsc7(data: string): string | null {
  try {
    const url = new URL(data);
    return url.protocol === "file:" ? decodeURIComponent(url.pathname) : null;
  } catch {
    return null;
  }
}

/** Where a search of the scrollback stands: the active match (1-based) of how many. */
export interface SearchResults {
  /** 0 when no match is active. */
  index: number;
  count: number;
}

/** Options for {@link WebTerminal}. */
export interface WebTerminalOptions {
  cluster: string;
  csrfToken: string;
  target: TerminalTarget;
  events: TerminalEvents;
}

type ServerMessage =
  | { type: "session"; id: string; node: string; login: string; mode: string }
  | { type: "parties"; parties: Party[] }
  | { type: "resize"; cols: number; rows: number }
  | { type: "error"; message: string; kind?: string }
  | { type: "end"; exit_code: number | null; reason?: string };

/** How matches look: the active one in the accent gold, the others muted. */
const SEARCH_OPTIONS: ISearchOptions = {
  decorations: {
    matchBackground: "#3b4a5e",
    matchOverviewRuler: "#7d8da3",
    activeMatchBackground: "#f2b134",
    activeMatchColorOverviewRuler: "#f2b134",
  },
};

/**
 * Opens a link printed in the terminal in a new tab that cannot reach back
 * into this page (`noopener`, and no referrer naming the session).
 */
function openLink(event: MouseEvent, uri: string): void {
  if (!/^https?:\/\//i.test(uri)) return;
  event.preventDefault();
  globalThis.open(uri, "_blank", "noopener,noreferrer");
}

const FONT_FAMILY =
  'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace';

/** Builds the WebSocket URL for a target. */
export function connectUrl(
  cluster: string,
  csrfToken: string,
  target: TerminalTarget,
  size: { cols: number; rows: number },
): string {
  const params = target.kind === "new"
    ? new URLSearchParams({
      node: target.node,
      login: target.login,
      cols: String(size.cols),
      rows: String(size.rows),
    })
    : new URLSearchParams({ session_id: target.sessionId, mode: target.mode });
  params.set("csrf", csrfToken);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${sitePath(cluster, "/connect")}?${params}`;
}

function closeReason(event: CloseEvent, opened: boolean): string {
  if (!opened) {
    return "Cannot open the terminal connection. Check that you are still signed in and try again.";
  }
  if (event.reason) return event.reason;
  if (event.code === 1000) return "The server closed the connection.";
  return "The connection to the server was lost.";
}

/**
 * An xterm.js terminal bound to one WebSocket session.
 *
 * @example
 * ```ts
 * const term = new WebTerminal(container, {cluster, csrfToken, target, events});
 * // later
 * term.dispose();
 * ```
 */
export class WebTerminal {
  readonly #term: Terminal;
  readonly #fit = new FitAddon();
  readonly #search = new SearchAddon();
  readonly #ws: WebSocket;
  readonly #events: TerminalEvents;
  readonly #encoder = new TextEncoder();
  readonly #observer: ResizeObserver;
  #readOnly: boolean;
  #finished = false;
  #opened = false;
  #applyingRemoteSize = false;
  #resizeTimer: ReturnType<typeof setTimeout> | undefined;
  #fitFrame: number | undefined;
  #disposed = false;

  constructor(container: HTMLElement, options: WebTerminalOptions) {
    this.#events = options.events;
    this.#readOnly = options.target.kind === "join" && options.target.mode === "observer";
    this.#term = new Terminal({
      cursorBlink: !this.#readOnly,
      disableStdin: this.#readOnly,
      fontFamily: FONT_FAMILY,
      fontSize: 14,
      scrollback: 5000,
      theme: { background: "#0f1720", foreground: "#e6edf3", cursor: "#f2b134" },
      // Search decorations (match highlights and counts) are a proposed API in xterm 6.
      allowProposedApi: true,
    });
    this.#term.loadAddon(this.#fit);
    this.#term.loadAddon(this.#search);
    this.#term.loadAddon(new WebLinksAddon(openLink));
    this.#term.parser.registerOscHandler(7, (data) => {
      const path = directoryFromOsc7(data);
      if (path) this.#events.onDirectory?.(path);
      return true;
    });
    this.#term.open(container);
    this.#term.attachCustomKeyEventHandler((event) => this.#onKey(event));
    this.#fit.fit();

    const size = { cols: this.#term.cols, rows: this.#term.rows };
    this.#ws = new WebSocket(connectUrl(options.cluster, options.csrfToken, options.target, size));
    this.#ws.binaryType = "arraybuffer";
    this.#ws.onopen = () => {
      this.#opened = true;
      this.#events.onState({ status: "connected" });
      // A new session starts at the size in the URL; tell the server if the window changed since.
      const changed = this.#term.cols !== size.cols || this.#term.rows !== size.rows;
      if (options.target.kind === "new" && changed) this.#sendResize();
    };
    this.#ws.onmessage = (event) => this.#onMessage(event);
    this.#ws.onclose = (event) => this.#onClose(event);
    this.#events.onState({ status: "connecting" });

    this.#term.onData((data) => this.#send(this.#encoder.encode(data)));
    this.#term.onBinary((data) => this.#send(Uint8Array.from(data, (c) => c.charCodeAt(0))));
    this.#term.onResize(() => {
      if (!this.#applyingRemoteSize) this.#scheduleResize();
    });
    this.#observer = new ResizeObserver(() => this.#scheduleFit());
    this.#observer.observe(container);
    this.#term.focus();
  }

  /**
   * Selects the next (or, `backwards`, the previous) occurrence of `text` in
   * the scrollback, highlighting all of them; an empty text clears the search.
   */
  find(text: string, backwards = false): void {
    if (!text) {
      this.clearSearch();
      return;
    }
    if (backwards) this.#search.findPrevious(text, SEARCH_OPTIONS);
    else this.#search.findNext(text, SEARCH_OPTIONS);
  }

  /** Removes the highlights of a search. */
  clearSearch(): void {
    this.#search.clearDecorations();
    this.#term.clearSelection();
  }

  /**
   * Calls `listener` whenever the matches of the current search change.
   * @returns a function that stops the calls
   */
  onSearchResults(listener: (results: SearchResults) => void): () => void {
    const subscription = this.#search.onDidChangeResults(({ resultIndex, resultCount }) =>
      listener({ index: resultIndex + 1, count: resultCount })
    );
    return () => subscription.dispose();
  }

  /** Gives the terminal keyboard focus. */
  focus(): void {
    this.#term.focus();
  }

  /**
   * Leaves the session on purpose: for its owner the proxy then ends it on
   * the node (as when the tab closes); a peer or observer just leaves.
   */
  leave(owner: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#term.options.disableStdin = true;
    this.#term.options.cursorBlink = false;
    if (this.#ws.readyState <= WebSocket.OPEN) this.#ws.close(1000, "ended by the user");
    this.#events.onState({
      status: "ended",
      exitCode: null,
      reason: owner ? "you ended it" : "you left it",
    });
  }

  /** Closes the connection and frees the terminal. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#finished = true;
    this.#observer.disconnect();
    clearTimeout(this.#resizeTimer);
    if (this.#fitFrame !== undefined) cancelAnimationFrame(this.#fitFrame);
    if (this.#ws.readyState <= WebSocket.OPEN) this.#ws.close(1000, "page closed");
    this.#term.dispose();
  }

  #onKey(event: KeyboardEvent): boolean {
    if (event.type !== "keydown" || !event.ctrlKey || !event.shiftKey) return true;
    const key = event.key.toLowerCase();
    if (key === "f" && this.#events.onFind) {
      event.preventDefault();
      this.#events.onFind();
      return false;
    }
    if (key === "c") {
      if (this.#term.hasSelection()) void copyText(this.#term.getSelection());
      event.preventDefault();
      return false;
    }
    // Ctrl+Shift+V: let the browser fire its paste event, which xterm.js handles.
    return key !== "v";
  }

  #send(bytes: Uint8Array): void {
    if (this.#readOnly || this.#ws.readyState !== WebSocket.OPEN) return;
    this.#ws.send(bytes);
  }

  #scheduleFit(): void {
    if (this.#disposed || this.#fitFrame !== undefined) return;
    this.#fitFrame = requestAnimationFrame(() => {
      this.#fitFrame = undefined;
      // An observer follows the session's size instead of the window's.
      if (!this.#disposed && !this.#readOnly) this.#fit.fit();
    });
  }

  #scheduleResize(): void {
    clearTimeout(this.#resizeTimer);
    this.#resizeTimer = setTimeout(() => this.#sendResize(), 100);
  }

  #sendResize(): void {
    if (this.#readOnly || this.#ws.readyState !== WebSocket.OPEN) return;
    this.#ws.send(JSON.stringify({ type: "resize", cols: this.#term.cols, rows: this.#term.rows }));
  }

  #onMessage(event: MessageEvent): void {
    if (this.#disposed) return;
    if (typeof event.data !== "string") {
      this.#term.write(new Uint8Array(event.data as ArrayBuffer));
      return;
    }
    let message: ServerMessage;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (message.type) {
      case "session":
        if (message.mode === "observer" && !this.#readOnly) {
          this.#readOnly = true;
          this.#term.options.disableStdin = true;
        }
        this.#events.onSession(message);
        break;
      case "parties":
        this.#events.onParties(message.parties ?? []);
        break;
      case "resize":
        this.#applyRemoteSize(message.cols, message.rows);
        break;
      case "error":
        this.#finished = true;
        this.#events.onState({ status: "error", message: message.message, kind: message.kind });
        break;
      case "end":
        this.#finished = true;
        this.#events.onState({
          status: "ended",
          exitCode: message.exit_code ?? null,
          reason: message.reason,
        });
        this.#term.options.disableStdin = true;
        this.#term.options.cursorBlink = false;
        break;
    }
  }

  #applyRemoteSize(cols: number, rows: number): void {
    if (!(cols > 0 && rows > 0) || (cols === this.#term.cols && rows === this.#term.rows)) return;
    this.#applyingRemoteSize = true;
    try {
      this.#term.resize(cols, rows);
    } finally {
      this.#applyingRemoteSize = false;
    }
  }

  #onClose(event: CloseEvent): void {
    if (this.#disposed) return;
    this.#term.options.disableStdin = true;
    this.#term.options.cursorBlink = false;
    if (this.#finished) return;
    this.#finished = true;
    this.#events.onState({ status: "disconnected", reason: closeReason(event, this.#opened) });
  }
}
