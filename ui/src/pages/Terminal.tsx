/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/terminal/new?node=&login=` (a new session) and
 * `/web/sessions/:id/join?mode=observer|peer` (joining one): a full-window
 * terminal with the session id, a share link, the parties, the
 * connection status and a search of the scrollback (Ctrl+Shift+F).
 *
 * @module
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { SessionMfaGate } from "../components/SessionMfaGate.tsx";
import type { JSX } from "preact";
import { getCsrfToken } from "../api.ts";
import { CopyButton } from "../components/CopyButton.tsx";
import { Logo } from "../components/Layout.tsx";
import { useTitle } from "../components/Page.tsx";
import { Link } from "../router.tsx";
import { can, homePath, useSession } from "../session.tsx";
import { joinPath } from "./Sessions.tsx";
import {
  type ConnectionState,
  type SearchResults,
  type SessionInfo,
  type TerminalTarget,
  WebTerminal,
} from "../terminal.ts";
import type { Party } from "../types.ts";
import { TerminalFiles } from "./TerminalFiles.tsx";

/** How to copy and paste in the terminal, where Ctrl+C and Ctrl+V go to the shell. */
function ShortcutHint() {
  const mac = /Mac|iPhone|iPad/.test(navigator.platform);
  return (
    <span class="term-hint" data-testid="shortcut-hint">
      {mac ? "Copy ⌘C · Paste ⌘V" : "Copy Ctrl+Shift+C · Paste Ctrl+Shift+V"}
    </span>
  );
}

/** The share link for a session (joins as an observer unless `?mode=peer` is added). */
export function shareLink(sessionId: string): string {
  return `${location.origin}/web/sessions/${encodeURIComponent(sessionId)}/join`;
}

/** A reason from the server ("postern is shutting down") as the end of a sentence. */
function sentence(reason: string): string {
  const text = reason.charAt(0).toLowerCase() + reason.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function statusText(state: ConnectionState): string {
  switch (state.status) {
    case "connecting":
      return "Connecting…";
    case "connected":
      return "Connected";
    case "ended":
      if (state.reason) return `Session ended: ${sentence(state.reason)}`;
      return state.exitCode === null
        ? "Session ended."
        : `Session ended (exit code ${state.exitCode}).`;
    case "disconnected":
      return `Disconnected: ${state.reason}`;
    case "error":
      return state.message;
  }
}

/** What the banner offers after the terminal stopped: retry, or watch after a refused peer join. */
function NextStep({ state, target, onRetry }: {
  state: ConnectionState;
  target: TerminalTarget;
  onRetry: () => void;
}) {
  if (target.kind === "new") {
    return (
      <button type="button" class="btn btn-small" onClick={onRetry}>Start a new session</button>
    );
  }
  // A session that ended cannot be joined again.
  if (state.status === "ended") return null;
  if (target.mode === "peer" && state.status === "error" && state.kind === "access_denied") {
    return (
      <Link href={joinPath(target.sessionId, "observer")} class="btn btn-small">
        Watch instead
      </Link>
    );
  }
  return <button type="button" class="btn btn-small" onClick={onRetry}>Join again</button>;
}

function StatusBanner(
  { state, target, onRetry, recording }: {
    state: ConnectionState;
    target: TerminalTarget;
    onRetry: () => void;
    /** The recording's page, when the session started and the user may replay it. */
    recording?: string;
  },
) {
  const home = homePath(useSession().session);
  const live = state.status === "connecting" || state.status === "connected";
  if (live) {
    return (
      <span
        class={`status-pill status-${state.status}`}
        role="status"
        data-testid="terminal-status"
        data-state={state.status}
      >
        {statusText(state)}
      </span>
    );
  }
  return (
    <div class={`term-banner term-banner-${state.status}`}>
      <span role="alert" data-testid="terminal-status" data-state={state.status}>
        {statusText(state)}
      </span>
      <span class="term-banner-actions">
        {recording && (
          <Link href={recording} class="btn btn-small" data-testid="recording-link">
            Replay the recording
          </Link>
        )}
        <NextStep state={state} target={target} onRetry={onRetry} />
        <Link href={home} class="btn btn-small">
          {home === "/web/nodes" ? "Back to nodes" : "Back to sessions"}
        </Link>
      </span>
    </div>
  );
}

function resultsText(results: SearchResults | null, text: string): string {
  if (!text || !results) return "";
  if (results.count === 0) return "No matches";
  // The addon stops counting positions past its highlight limit.
  if (results.index === 0) return `${results.count} matches`;
  return `${results.index} of ${results.count}`;
}

/**
 * The search box over the terminal: Enter or Next finds the next match,
 * Shift+Enter or Previous the one before, Esc closes it and gives the
 * terminal the keyboard back.
 */
function TerminalSearch(
  { terminal, onClose }: { terminal: WebTerminal; onClose: () => void },
) {
  const input = useRef<HTMLInputElement>(null);
  const [text, setText] = useState("");
  const [results, setResults] = useState<SearchResults | null>(null);
  useEffect(() => {
    input.current?.focus();
    const stop = terminal.onSearchResults(setResults);
    return () => {
      stop();
      terminal.clearSearch();
    };
  }, [terminal]);
  const close = () => {
    onClose();
    terminal.focus();
  };
  const onKeyDown = (event: JSX.TargetedKeyboardEvent<HTMLElement>) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "Enter" && event.target === input.current) {
      event.preventDefault();
      terminal.find(text, event.shiftKey);
    }
  };
  return (
    <div class="term-search" role="search" aria-label="Search the terminal" onKeyDown={onKeyDown}>
      <input
        ref={input}
        type="search"
        aria-label="Search the terminal output"
        placeholder="Search the output"
        spellcheck={false}
        value={text}
        onInput={(event) => {
          const value = event.currentTarget.value;
          setText(value);
          if (!value) {
            setResults(null);
          }
          terminal.find(value);
        }}
      />
      <span class="term-search-count" role="status" data-testid="search-results">
        {resultsText(results, text)}
      </span>
      <button
        type="button"
        class="btn btn-small"
        disabled={!text}
        title="Previous match (Shift+Enter)"
        onClick={() =>
          terminal.find(text, true)}
      >
        Previous
      </button>
      <button
        type="button"
        class="btn btn-small"
        disabled={!text}
        title="Next match (Enter)"
        onClick={() =>
          terminal.find(text)}
      >
        Next
      </button>
      <button type="button" class="btn btn-small" title="Close (Esc)" onClick={close}>
        Close
      </button>
    </div>
  );
}

/** Props for {@link TerminalPage}. */
export interface TerminalPageProps {
  target: TerminalTarget;
}

/** The terminal page; a new session needs both a node and a login. */
export function TerminalPage({ target }: TerminalPageProps) {
  if (target.kind === "new" && (!target.node || !target.login)) {
    return (
      <div class="auth-screen">
        <main class="auth-card" id="main">
          <h1>Cannot open a terminal</h1>
          <p role="alert">
            The link is missing the node or the login. Pick a node and a login on the nodes page.
          </p>
          <Link href="/web/nodes" class="btn btn-primary">Go to nodes</Link>
        </main>
      </div>
    );
  }
  return (
    <SessionMfaGate>
      <LiveTerminal target={target} />
    </SessionMfaGate>
  );
}

function LiveTerminal({ target }: TerminalPageProps) {
  const { session } = useSession();
  const container = useRef<HTMLDivElement>(null);
  const [attempt, setAttempt] = useState(0);
  const [state, setState] = useState<ConnectionState>({ status: "connecting" });
  const [info, setInfo] = useState<SessionInfo | null>(null);
  const [parties, setParties] = useState<Party[]>([]);
  const targetKey = JSON.stringify(target);
  const terminal = useRef<WebTerminal | null>(null);
  const [searching, setSearching] = useState(false);
  const [filesOpen, setFilesOpen] = useState(false);
  const [directory, setDirectory] = useState<string | null>(null);

  const node = info?.node ?? (target.kind === "new" ? target.node : "");
  const login = info?.login ?? (target.kind === "new" ? target.login : "");
  const observer = info
    ? info.mode === "observer"
    : target.kind === "join" && target.mode === "observer";
  const live = state.status === "connecting" || state.status === "connected";
  // Every session through postern is recorded; others' only replay with "sessions.replay".
  const recording = info && (info.mode === "owner" || can(session, "sessions.replay"))
    ? `/web/recordings/${encodeURIComponent(info.id)}`
    : undefined;
  useTitle(node ? `${login}@${node}` : "Terminal");
  // Files move as the session's login: only its owner's, with a role that allows it.
  const mayTransfer = !!session.file_transfer && !!node && !!login &&
    (info ? info.mode === "owner" : target.kind === "new");

  useEffect(() => {
    setInfo(null);
    setParties([]);
    const term = new WebTerminal(container.current!, {
      cluster: session.cluster,
      csrfToken: getCsrfToken(),
      target,
      events: {
        onState: setState,
        onSession: setInfo,
        onParties: setParties,
        onFind: () => setSearching(true),
        onDirectory: setDirectory,
      },
    });
    terminal.current = term;
    setSearching(false);
    return () => term.dispose();
  }, [targetKey, attempt, session.cluster]);

  return (
    <div class="term-page">
      <header class="term-bar">
        <Link href="/web/nodes" class="brand brand-compact" aria-label="postern: back to nodes">
          <Logo />
        </Link>
        <h1 class="term-title">{node ? `${login}@${node}` : "Joining session…"}</h1>
        {observer && (
          <span class="badge badge-observer" data-testid="observer-badge">
            Observing (read-only)
          </span>
        )}
        {live && (
          <StatusBanner
            state={state}
            target={target}
            onRetry={() => setAttempt((n) => n + 1)}
          />
        )}
        <span class="spacer" />
        {live && !observer && <ShortcutHint />}
        {mayTransfer && (
          <button
            type="button"
            class="btn btn-small"
            aria-expanded={filesOpen}
            title="Upload files to the node, or download one"
            onClick={() => setFilesOpen(!filesOpen)}
          >
            Files
          </button>
        )}
        <button
          type="button"
          class="btn btn-small"
          aria-expanded={searching}
          title="Search the output (Ctrl+Shift+F)"
          onClick={() => setSearching(true)}
        >
          Search
        </button>
        {state.status === "connected" && info && (
          <button
            type="button"
            class="btn btn-small"
            onClick={() => terminal.current?.leave(info.mode === "owner")}
          >
            {info.mode === "owner" ? "End session" : "Leave"}
          </button>
        )}
        {info && (
          <div class="term-meta">
            <span class="term-meta-item">
              <span class="muted">Session</span>
              <code data-testid="session-id">{info.id}</code>
            </span>
            {live && (
              <span class="term-meta-item">
                <span class="muted">Share</span>
                <code class="share-link" data-testid="share-link">{shareLink(info.id)}</code>
                <CopyButton text={shareLink(info.id)} label="share link" />
              </span>
            )}
          </div>
        )}
        {live && (
          <div class="term-meta-item">
            <span class="muted" id="parties-label">Parties</span>
            <ul class="parties" data-testid="parties" aria-labelledby="parties-label">
              {parties.map((party, i) => (
                <li key={`${party.user}-${i}`} class="chip">
                  {party.user} <span class="muted">({party.mode})</span>
                </li>
              ))}
            </ul>
          </div>
        )}
      </header>
      {!live && (
        <StatusBanner
          state={state}
          target={target}
          onRetry={() => setAttempt((n) => n + 1)}
          recording={recording}
        />
      )}
      {filesOpen && mayTransfer && (
        <TerminalFiles
          cluster={session.cluster}
          node={node}
          login={login}
          directory={directory}
          onClose={() => setFilesOpen(false)}
        />
      )}
      <div class="term-area">
        {searching && terminal.current && (
          <TerminalSearch
            terminal={terminal.current}
            onClose={() => setSearching(false)}
          />
        )}
        <div
          class="term-container"
          data-testid="terminal"
          ref={container}
        />
      </div>
    </div>
  );
}
