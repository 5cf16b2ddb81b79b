/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/recordings`: recorded sessions with Play and Download links,
 * filtered by user, node, login and start date, a page at a time; the
 * filters and the page are kept in the URL.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { request, sitePath } from "../api.ts";
import { DataTable, RefreshButton } from "../components/DataTable.tsx";
import { Field } from "../components/Field.tsx";
import { PageHeader } from "../components/Page.tsx";
import { pageFromQuery, Pager, perPageFromQuery } from "../components/Pager.tsx";
import { durationBetween, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { navigate, updateQuery, useLocation } from "../router.tsx";
import { can, useSession } from "../session.tsx";
import type { Paged, Recording } from "../types.ts";
import { RecordingSearch } from "./RecordingSearch.tsx";

/** URL of a recording's asciicast; `download` asks for an attachment. */
export function streamUrl(cluster: string, id: string, download = false): string {
  const path = sitePath(cluster, `/recordings/${encodeURIComponent(id)}/stream`);
  return download ? `${path}?download=1` : path;
}

/** The page of a recording (the player). */
export function recordingPath(id: string): string {
  return `/web/recordings/${encodeURIComponent(id)}`;
}

/** What the recordings page filters by; `from` and `to` are local dates (YYYY-MM-DD), inclusive. */
export interface RecordingFilters {
  user: string;
  node: string;
  login: string;
  from: string;
  to: string;
}

const FILTER_NAMES = ["user", "node", "login", "from", "to"] as const;

/** The start of a local date, or of the day after it (`next`), as an ISO time. */
export function dayStart(date: string, next = false): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) return null;
  const [, y, m, d] = match.map(Number);
  return new Date(y, m - 1, d + (next ? 1 : 0)).toISOString();
}

/** The recordings API path for filters and a page. */
export function recordingsApiPath(
  cluster: string,
  filters: RecordingFilters,
  page: number,
  perPage: number,
): string {
  const params = new URLSearchParams();
  for (const name of ["user", "node", "login"] as const) {
    if (filters[name].trim()) params.set(name, filters[name].trim());
  }
  const since = dayStart(filters.from);
  const until = dayStart(filters.to, true);
  if (since) params.set("since", since);
  if (until) params.set("until", until);
  params.set("limit", String(perPage));
  params.set("offset", String((page - 1) * perPage));
  return sitePath(cluster, `/recordings?${params}`);
}

function filtersOf(query: URLSearchParams): RecordingFilters {
  const filters = { user: "", node: "", login: "", from: "", to: "" };
  for (const name of FILTER_NAMES) filters[name] = query.get(name) ?? "";
  return filters;
}

/** The recordings page: the search across recordings, or the table of them. */
export function RecordingsPage() {
  const { query } = useLocation();
  const [searching, setSearching] = useState(() => !!query.get("q")?.trim());
  return (
    <>
      <PageHeader title="Recordings" description="Replay terminal sessions recorded by postern." />
      <RecordingSearch onSearch={setSearching} />
      {!searching && <RecordingList />}
    </>
  );
}

/** The recordings table with its filters and pages. */
function RecordingList() {
  const { session } = useSession();
  const { query } = useLocation();
  const [applied, setApplied] = useState(() => filtersOf(query));
  const [draft, setDraft] = useState(applied);
  const [page, setPage] = useState(() => pageFromQuery(query.get("page")));
  const [perPage, setPerPage] = useState(() => perPageFromQuery(query.get("per_page")));
  const path = recordingsApiPath(session.cluster, applied, page, perPage);
  const recordings = useLoad(() => request<Paged<Recording>>("GET", path), [path]);
  const items = recordings.data?.items ?? [];
  const allUsers = can(session, "sessions.replay");

  const show = (filters: RecordingFilters, nextPage: number, size: number) => {
    setDraft(filters);
    setApplied(filters);
    setPage(nextPage);
    setPerPage(size);
    updateQuery({
      ...filters,
      page: nextPage > 1 ? String(nextPage) : "",
      per_page: size !== 25 ? String(size) : "",
    });
    if (recordingsApiPath(session.cluster, filters, nextPage, size) === path) recordings.reload();
  };
  const field = (name: "user" | "node" | "login", label: string) => (
    <Field
      id={`recordings-${name}`}
      name={name}
      label={label}
      autocapitalize="none"
      spellcheck={false}
      value={draft[name]}
      onValue={(value) => setDraft({ ...draft, [name]: value })}
    />
  );
  const date = (name: "from" | "to", label: string) => (
    <Field
      id={`recordings-${name}`}
      name={name}
      type="date"
      label={label}
      value={draft[name]}
      onValue={(value) => setDraft({ ...draft, [name]: value })}
    />
  );

  return (
    <>
      <form
        class="filters"
        role="search"
        aria-label="Recording filters"
        onSubmit={(e) => {
          e.preventDefault();
          show(draft, 1, perPage);
        }}
      >
        {allUsers && field("user", "User")}
        {field("node", "Node")}
        {field("login", "Login")}
        {date("from", "Started from")}
        {date("to", "Started until")}
        <button type="submit" class="btn btn-primary" disabled={recordings.loading}>
          Apply filters
        </button>
        <button
          type="button"
          class="btn"
          onClick={() => show({ user: "", node: "", login: "", from: "", to: "" }, 1, perPage)}
        >
          Clear
        </button>
        <RefreshButton load={recordings} />
      </form>
      <DataTable
        testId="recordings-table"
        load={recordings}
        columns={["User", "Node", "Login", "Start", "Duration"]}
        actions="Actions"
        rows={items}
        row={(r) => (
          <tr key={r.id} data-recording-id={r.id}>
            <td data-label="User">{r.user}</td>
            <td data-label="Node">{r.node}</td>
            <td data-label="Login" class="mono">{r.login}</td>
            <td data-label="Start">
              <time dateTime={r.started}>{formatTime(r.started)}</time>
            </td>
            <td data-label="Duration">
              {durationBetween(r.started, r.ended) ??
                <span class="badge badge-live">in progress</span>}
            </td>
            <td class="cell-actions">
              <div class="button-row">
                <button
                  type="button"
                  class="btn btn-small btn-primary"
                  onClick={() => navigate(recordingPath(r.id))}
                >
                  Play
                </button>
                <a
                  class="btn btn-small"
                  href={streamUrl(session.cluster, r.id, true)}
                  download={`${r.id}.cast`}
                >
                  Download .cast
                </a>
              </div>
            </td>
          </tr>
        )}
        empty={page > 1
          ? "No more recordings."
          : Object.values(applied).some(Boolean)
          ? "No recordings match the filters."
          : "No recordings yet."}
        loading="Loading recordings…"
      />
      <Pager
        label="Recordings"
        page={page}
        hasNext={recordings.data?.next_offset != null}
        perPage={perPage}
        busy={recordings.loading}
        onPage={(next) => show(applied, next, perPage)}
        onPerPage={(size) => show(applied, 1, size)}
      />
    </>
  );
}
