/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/recordings/:id`: replays a recording with asciinema-player.
 *
 * @module
 */

import * as AsciinemaPlayer from "asciinema-player";
import { useEffect, useRef, useState } from "preact/hooks";
import { request, sitePath } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { PageHeader } from "../components/Page.tsx";
import { durationBetween, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { Link, useLocation } from "../router.tsx";
import { useSession } from "../session.tsx";
import type { Recording } from "../types.ts";
import { streamUrl } from "./Recordings.tsx";

const SPEEDS = [0.5, 1, 1.5, 2, 4, 8];
/** The style sheet's narrow-window breakpoint. */
const NARROW = "(max-width: 760px)";

interface ErrorEvents {
  addEventListener(name: "error", handler: () => void): void;
}

function Details({ recording }: { recording: Recording }) {
  return (
    <dl class="details">
      <div>
        <dt>User</dt>
        <dd>{recording.user}</dd>
      </div>
      <div>
        <dt>Node</dt>
        <dd>{recording.node}</dd>
      </div>
      <div>
        <dt>Login</dt>
        <dd class="mono">{recording.login}</dd>
      </div>
      <div>
        <dt>Started</dt>
        <dd>{formatTime(recording.started)}</dd>
      </div>
      <div>
        <dt>Duration</dt>
        <dd>{durationBetween(recording.started, recording.ended) ?? "in progress"}</dd>
      </div>
      <div>
        <dt>Exit code</dt>
        <dd>{recording.exit_code ?? "—"}</dd>
      </div>
    </dl>
  );
}

/** The player page: one message instead of the player when the recording cannot be played. */
export function PlayerPage({ id }: { id: string }) {
  const { session } = useSession();
  const { query } = useLocation();
  // A search match links here with the time it was found at (?t=seconds).
  const startAt = Math.max(0, Number(query.get("t")) || 0);
  const meta = useLoad(
    () =>
      request<Recording>("GET", sitePath(session.cluster, `/recordings/${encodeURIComponent(id)}`)),
    [session.cluster, id],
  );
  const [streamError, setStreamError] = useState<string | null>(null);
  const recording = meta.data;
  const error = meta.error ?? streamError;
  const playable = recording && !error;
  return (
    <>
      <PageHeader
        title="Recording"
        description={recording ? `${recording.login}@${recording.node} by ${recording.user}` : id}
      >
        <Link href="/web/recordings" class="btn">All recordings</Link>
        {playable && (
          <a class="btn" href={streamUrl(session.cluster, id, true)} download={`${id}.cast`}>
            Download .cast
          </a>
        )}
      </PageHeader>
      <ErrorAlert message={error} />
      {recording && <Details recording={recording} />}
      {playable && (
        <Player
          url={streamUrl(session.cluster, id)}
          startAt={startAt}
          onError={() =>
            setStreamError(
              "Cannot play this recording: its file is missing or unreadable on the proxy. Ask an administrator to check the proxy's recordings directory.",
            )}
        />
      )}
    </>
  );
}

/** Names for the player's own controls that show only an icon (asciinema-player leaves them unnamed). */
const PLAYER_LABELS: [selector: string, label: string][] = [
  [".ap-playback-button", "Play or pause"],
  [".ap-term-text", "Recorded terminal"],
  [".ap-progressbar .ap-bar", "Position in the recording"],
];

/** Gives the player's icon-only controls a name screen readers and tooltips can use. */
function labelPlayerControls(root: HTMLElement): void {
  for (const [selector, label] of PLAYER_LABELS) {
    for (const element of root.querySelectorAll(selector)) {
      if (!element.getAttribute("aria-label")) element.setAttribute("aria-label", label);
    }
  }
}

function Player(
  { url, startAt: initialTime, onError }: { url: string; startAt: number; onError: () => void },
) {
  const container = useRef<HTMLDivElement>(null);
  const player = useRef<AsciinemaPlayer.Player | null>(null);
  const [speed, setSpeed] = useState(1);
  // Skipping idle time shifts the player's clock away from the recording's:
  // a link to a time starts without it, so the time means what it says.
  const [skipIdle, setSkipIdle] = useState(initialTime === 0);

  useEffect(() => {
    // Watching from before the player is created: it draws some controls at
    // once, others later, and redraws them when they change.
    const root = container.current!;
    const observer = new MutationObserver(() => labelPlayerControls(root));
    observer.observe(root, { childList: true, subtree: true, attributeFilter: ["tabindex"] });
    return () => {
      observer.disconnect();
      player.current?.dispose();
    };
  }, []);
  useEffect(() => {
    // Changing speed or idle skipping rebuilds the player; keep the position.
    // Just past the time asked for, so that the event at that time is shown.
    const startAt = player.current
      ? Math.floor(player.current.getCurrentTime())
      : initialTime > 0
      ? initialTime + 0.05
      : 0;
    const resume = player.current !== null;
    player.current?.dispose();
    const created = AsciinemaPlayer.create(
      { url, fetchOpts: { credentials: "same-origin" } },
      container.current!,
      {
        speed,
        idleTimeLimit: skipIdle ? 2 : undefined,
        startAt,
        // Before playing, a link to a time shows the terminal as it was then.
        ...(!resume && startAt > 0 ? { poster: `npt:${startAt}` } : {}),
        autoPlay: resume,
        preload: true,
        // In a narrow window a fixed-height box around a wide recording is mostly
        // empty: the player takes the recording's own height instead.
        fit: matchMedia(NARROW).matches ? "width" : "both",
        controls: true,
        terminalFontFamily:
          'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      },
    );
    // "error" is dispatched by the player core but missing from its type declarations.
    (created as unknown as ErrorEvents).addEventListener("error", onError);
    player.current = created;
  }, [url, speed, skipIdle]);

  return (
    <>
      <div class="player-controls">
        <div class="field field-inline">
          <label for="speed">Speed</label>
          <select
            id="speed"
            name="speed"
            value={String(speed)}
            onChange={(e) => setSpeed(Number(e.currentTarget.value))}
          >
            {SPEEDS.map((s) => <option key={s} value={String(s)}>{s}×</option>)}
          </select>
        </div>
        <label class="checkbox">
          <input
            type="checkbox"
            name="skip_idle"
            checked={skipIdle}
            onChange={(e) => setSkipIdle(e.currentTarget.checked)}
          />
          Skip idle time (over 2 s)
        </label>
        <span class="hint">
          Keys: space play/pause, ← → seek 5 s, 0–9 jump to 0–90%, f full screen.
        </span>
      </div>
      <div class="player" data-testid="player" ref={container} />
    </>
  );
}
