/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Search across recordings, on the recordings page: finds text in what
 * recorded sessions showed (and what users typed, where input is
 * recorded), lists each match with the lines around it, and links to the
 * player at the match's time. The search is kept in the URL (`q`).
 *
 * @module
 */

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { request, sitePath } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { Field } from "../components/Field.tsx";
import { formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { Link, updateQuery, useLocation } from "../router.tsx";
import { useSession } from "../session.tsx";
import type { RecordingSearchHit } from "../types.ts";
import { recordingPath } from "./Recordings.tsx";

/** The player page of a recording, at `time` seconds. */
export function recordingAt(id: string, time: number): string {
  return `${recordingPath(id)}?t=${time}`;
}

/** "1:02:03" / "2:03" for a time into a recording. */
export function clockTime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** The words of a search as the server matches them: runs of letters and digits. */
function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** `line` with the searched words (or words they start) marked. */
function highlight(line: string, words: string[]): ComponentChildren[] {
  const parts: ComponentChildren[] = [];
  let last = 0;
  for (const found of line.matchAll(/[\p{L}\p{N}]+/gu)) {
    const word = found[0].toLowerCase();
    if (!words.some((w) => word === w || w.length >= 3 && word.startsWith(w))) continue;
    parts.push(line.slice(last, found.index), <mark>{found[0]}</mark>);
    last = found.index! + found[0].length;
  }
  parts.push(line.slice(last));
  return parts;
}

function Hit({ hit, words }: { hit: RecordingSearchHit; words: string[] }) {
  const r = hit.recording;
  const at = clockTime(hit.time);
  return (
    <li class="search-hit" data-recording-id={r.id}>
      <div class="search-hit-head">
        <span>
          <strong>{r.user}</strong> · <span class="mono">{r.login}@{r.node}</span> ·{" "}
          <time dateTime={r.started}>{formatTime(r.started)}</time>
          {hit.stream === "i" && <span class="badge">typed</span>}
        </span>
        <Link class="btn btn-small btn-primary" href={recordingAt(r.id, hit.time)}>
          Play from {at}
        </Link>
      </div>
      <pre class="search-context">
        {hit.context.map((line, i) => (
          <div key={i} class={i === hit.line ? "search-line search-match" : "search-line"}>
            {i === hit.line ? highlight(line, words) : line}
          </div>
        ))}
      </pre>
    </li>
  );
}

function Results({ query }: { query: string }) {
  const { session } = useSession();
  const path = sitePath(session.cluster, `/recordings/search?q=${encodeURIComponent(query)}`);
  const found = useLoad(() => request<{ items: RecordingSearchHit[] }>("GET", path), [path]);
  const words = wordsOf(query);
  const hits = found.data?.items ?? [];
  return (
    <section class="search-results" aria-label="Search results" aria-busy={found.loading}>
      <ErrorAlert message={found.error} />
      {found.loading && !found.data && <p class="hint">Searching…</p>}
      {found.data && (
        <p class="hint" role="status">
          {hits.length === 0
            ? `Nothing recorded contains "${query}". Check the spelling, or search for fewer words.`
            : `${hits.length} ${hits.length === 1 ? "match" : "matches"}, newest first${
              hits.length >= 50 ? " (the first 50: search for more words to narrow them)" : ""
            }.`}
        </p>
      )}
      <ol class="search-hits">
        {hits.map((hit, i) => <Hit key={i} hit={hit} words={words} />)}
      </ol>
    </section>
  );
}

/**
 * The search box and, once searched, its matches; `onSearch` is told
 * whether a search is shown (the page hides its table meanwhile).
 */
export function RecordingSearch({ onSearch }: { onSearch: (searching: boolean) => void }) {
  const { query } = useLocation();
  const [applied, setApplied] = useState(() => query.get("q")?.trim() ?? "");
  const [draft, setDraft] = useState(applied);
  const search = (text: string) => {
    setDraft(text);
    setApplied(text.trim());
    onSearch(text.trim() !== "");
    updateQuery({ q: text.trim() });
  };
  return (
    <>
      <form
        class="filters"
        role="search"
        aria-label="Search in recordings"
        onSubmit={(e) => {
          e.preventDefault();
          search(draft);
        }}
      >
        <Field
          id="recordings-search"
          name="q"
          type="search"
          label="Find text in recordings"
          placeholder="e.g. permission denied"
          autocapitalize="none"
          spellcheck={false}
          value={draft}
          onValue={setDraft}
        />
        <button type="submit" class="btn btn-primary">Search</button>
        {applied && <button type="button" class="btn" onClick={() => search("")}>Clear</button>}
      </form>
      {applied && <Results query={applied} />}
    </>
  );
}
