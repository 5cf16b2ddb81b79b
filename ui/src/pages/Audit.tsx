/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/audit`: the audit log with filters by event code prefix, user, time
 * window (or a custom range) and outcome, a page at a time, and an export of
 * everything the filters match as JSON or CSV. Filters and page are kept in
 * the URL; events of a session link to its recording.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { messageOf, request, sitePath } from "../api.ts";
import { auditCsv, auditJson, downloadText } from "../audit_export.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { Field } from "../components/Field.tsx";
import { PageHeader } from "../components/Page.tsx";
import { pageFromQuery, Pager, perPageFromQuery } from "../components/Pager.tsx";
import { formatTime } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import { Link, replaceQuery, useLocation } from "../router.tsx";
import { useSession } from "../session.tsx";
import type { AuditEvent, Paged } from "../types.ts";
import { recordingPath } from "./Recordings.tsx";

const WINDOWS: Record<string, { label: string; ms: number }> = {
  "1h": { label: "Last hour", ms: 3_600_000 },
  "24h": { label: "Last 24 hours", ms: 86_400_000 },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000 },
};

/** The Since value that shows the From and To fields. */
const CUSTOM = "custom";

/** Values of the Outcome filter. */
const OUTCOMES = ["any", "success", "failure"];

/** Event families offered in the code filter before any event is loaded. */
const CODE_PREFIXES = ["cert.", "invite.", "node.", "session.", "ssh.", "tunnel.", "user."];

const DEFAULT_PER_PAGE = 50;

/** Events fetched per request when exporting. */
const EXPORT_PAGE = 5000;

/** Filters the audit page sends to the server. */
export interface AuditFilters {
  code: string;
  user: string;
  /** A window back from now ("1h", "24h", "7d") or "custom" for `from`–`to`. */
  since: string;
  /** Local date and time (`YYYY-MM-DDTHH:MM`, a datetime-local value); used with "custom". */
  from: string;
  to: string;
  /** "any", "success" or "failure". */
  outcome: string;
}

/** The time query of the filters: a window measured back from `now`, or the custom range. */
function timeParams(filters: AuditFilters, now: number): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.since === CUSTOM) {
    const from = Date.parse(filters.from);
    const to = Date.parse(filters.to);
    if (!Number.isNaN(from)) params.set("since", new Date(from).toISOString());
    // "To" names a minute: events during it are included.
    if (!Number.isNaN(to)) params.set("until", new Date(to + 60_000).toISOString());
    return params;
  }
  const window = WINDOWS[filters.since] ?? WINDOWS["24h"];
  params.set("since", new Date(now - window.ms).toISOString());
  return params;
}

/** The audit API path for a set of filters and a slice of the result. */
export function auditPath(
  cluster: string,
  filters: AuditFilters,
  slice: { limit: number; offset: number },
  now = Date.now(),
): string {
  const params = timeParams(filters, now);
  if (filters.code.trim()) params.set("code", filters.code.trim());
  if (filters.user.trim()) params.set("user", filters.user.trim());
  if (filters.outcome !== "any") params.set("outcome", filters.outcome);
  params.set("limit", String(slice.limit));
  params.set("offset", String(slice.offset));
  return sitePath(cluster, `/audit?${params}`);
}

function filtersOf(query: URLSearchParams): AuditFilters {
  const since = query.get("since") ?? "";
  const outcome = query.get("outcome") ?? "";
  return {
    code: query.get("code") ?? "",
    user: query.get("user") ?? "",
    since: WINDOWS[since] || since === CUSTOM ? since : "24h",
    from: query.get("from") ?? "",
    to: query.get("to") ?? "",
    outcome: OUTCOMES.includes(outcome) ? outcome : "any",
  };
}

/** The page's URL query: the filters that differ from the defaults, and the page. */
function pageQuery(filters: AuditFilters, page: number, perPage: number): Record<string, string> {
  const custom = filters.since === CUSTOM;
  return {
    code: filters.code,
    user: filters.user,
    since: filters.since,
    from: custom ? filters.from : "",
    to: custom ? filters.to : "",
    outcome: filters.outcome === "any" ? "" : filters.outcome,
    page: page > 1 ? String(page) : "",
    per_page: perPage !== DEFAULT_PER_PAGE ? String(perPage) : "",
  };
}

function fieldText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function Fields({ fields }: { fields: Record<string, unknown> }) {
  const keys = Object.keys(fields ?? {}).sort();
  if (keys.length === 0) return <span class="muted">—</span>;
  return (
    <dl class="kv">
      {keys.map((key) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{fieldText(fields[key])}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A link to the recording of a `session.*` event's session. */
function RecordingLink({ event }: { event: AuditEvent }) {
  const id = event.fields?.session_id;
  if (!event.code.startsWith("session.") || typeof id !== "string" || !id) return null;
  return (
    <Link href={recordingPath(id)} class="btn btn-small" data-testid="recording-link">
      Replay the recording
    </Link>
  );
}

/** Every event matching `filters`, newest first, fetched a page at a time. */
async function allEvents(cluster: string, filters: AuditFilters): Promise<AuditEvent[]> {
  const now = Date.now();
  const events: AuditEvent[] = [];
  for (let offset: number | null = 0; offset !== null;) {
    const page: Paged<AuditEvent> = await request<Paged<AuditEvent>>(
      "GET",
      auditPath(cluster, filters, { limit: EXPORT_PAGE, offset }, now),
    );
    events.push(...page.items);
    offset = page.next_offset;
  }
  return events;
}

/** Export buttons: the whole filtered view, not only the page shown. */
function Export({ cluster, filters }: { cluster: string; filters: AuditFilters }) {
  const { busy, error, run } = useAction((err) => `Cannot export: ${messageOf(err)}`);
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "-");
  const save = (format: "json" | "csv") =>
    run(async () => {
      const events = await allEvents(cluster, filters);
      if (format === "json") {
        downloadText(`postern-audit-${stamp}.json`, "application/json", auditJson(events));
      } else {
        downloadText(`postern-audit-${stamp}.csv`, "text/csv", auditCsv(events));
      }
    });
  return (
    <>
      <button type="button" class="btn" disabled={busy} onClick={() => save("json")}>
        Export JSON
      </button>
      <button type="button" class="btn" disabled={busy} onClick={() => save("csv")}>
        Export CSV
      </button>
      {error && (
        <div class="page-actions-error">
          <ErrorAlert message={error} />
        </div>
      )}
    </>
  );
}

/** The audit log page. */
export function AuditPage() {
  const { session } = useSession();
  const { query } = useLocation();
  const [applied, setApplied] = useState(() => filtersOf(query));
  const [draft, setDraft] = useState(applied);
  const [page, setPage] = useState(() => pageFromQuery(query.get("page")));
  const [perPage, setPerPage] = useState(() =>
    perPageFromQuery(query.get("per_page"), DEFAULT_PER_PAGE)
  );
  const [loadedAt, setLoadedAt] = useState(Date.now);
  const events = useLoad(
    () =>
      request<Paged<AuditEvent>>(
        "GET",
        auditPath(session.cluster, applied, { limit: perPage, offset: (page - 1) * perPage }),
      ),
    [session.cluster, JSON.stringify(applied), page, perPage, loadedAt],
  );
  const [seenCodes, setSeenCodes] = useState<string[]>(CODE_PREFIXES);
  const items = events.data?.items ?? [];
  useEffect(() => {
    // Offer every code seen so far as a suggestion in the code filter.
    setSeenCodes((prev) => {
      const codes = new Set([...prev, ...items.map((e) => e.code)]);
      return codes.size === prev.length ? prev : [...codes].sort();
    });
  }, [events.data]);

  const show = (filters: AuditFilters, nextPage: number, size: number) => {
    setDraft(filters);
    setApplied(filters);
    setPage(nextPage);
    setPerPage(size);
    // A window back from now moves with now: every Apply measures it afresh.
    setLoadedAt(Date.now());
    replaceQuery(pageQuery(filters, nextPage, size));
  };
  const select = (name: "since" | "outcome", value: string) => {
    const next = { ...draft, [name]: value };
    // A custom range waits for its dates and Apply.
    if (name === "since" && value === CUSTOM) setDraft(next);
    else show(next, 1, perPage);
  };

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Who did what, from where, and whether it worked."
      >
        <Export cluster={session.cluster} filters={applied} />
      </PageHeader>
      <form
        class="filters"
        role="search"
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          show(draft, 1, perPage);
        }}
      >
        <Field
          id="audit-code"
          name="code"
          label="Event code"
          list="audit-codes"
          placeholder="Prefix, e.g. session."
          spellcheck={false}
          value={draft.code}
          onValue={(code) => setDraft({ ...draft, code })}
        />
        <datalist id="audit-codes">
          {seenCodes.map((code) => <option key={code} value={code} />)}
        </datalist>
        <Field
          id="audit-user"
          name="user"
          label="User"
          autocapitalize="none"
          spellcheck={false}
          value={draft.user}
          onValue={(user) => setDraft({ ...draft, user })}
        />
        <div class="field">
          <label for="audit-since">Since</label>
          <select
            id="audit-since"
            name="since"
            value={draft.since}
            onChange={(e) => select("since", e.currentTarget.value)}
          >
            {Object.entries(WINDOWS).map(([value, { label }]) => (
              <option key={value} value={value}>{label}</option>
            ))}
            <option value={CUSTOM}>Custom range</option>
          </select>
        </div>
        {draft.since === CUSTOM && (
          <>
            <Field
              id="audit-from"
              name="from"
              type="datetime-local"
              label="From"
              value={draft.from}
              onValue={(from) => setDraft({ ...draft, from })}
            />
            <Field
              id="audit-to"
              name="to"
              type="datetime-local"
              label="To"
              value={draft.to}
              onValue={(to) => setDraft({ ...draft, to })}
            />
          </>
        )}
        <div class="field">
          <label for="audit-outcome">Outcome</label>
          <select
            id="audit-outcome"
            name="outcome"
            value={draft.outcome}
            onChange={(e) => select("outcome", e.currentTarget.value)}
          >
            <option value="any">Any</option>
            <option value="success">Succeeded</option>
            <option value="failure">Failed</option>
          </select>
        </div>
        <button type="submit" class="btn btn-primary" disabled={events.loading}>
          Apply filters
        </button>
      </form>
      <DataTable
        testId="audit-table"
        compact
        load={events}
        columns={["Time", "Code", "User", "Remote address", "Success", "Details"]}
        rows={items}
        row={(e) => (
          <tr key={e.id} data-code={e.code}>
            <td data-label="Time" class="nowrap">
              <time dateTime={e.time}>{formatTime(e.time)}</time>
            </td>
            <td data-label="Code" class="mono nowrap">{e.code}</td>
            <td data-label="User">{e.user || <span class="muted">—</span>}</td>
            <td data-label="Remote address" class="mono">
              {e.remote_addr || <span class="muted">—</span>}
            </td>
            <td data-label="Success">
              {e.success
                ? <span class="badge badge-ok">yes</span>
                : <span class="badge badge-fail">no</span>}
            </td>
            <td data-label="Details">
              <Fields fields={e.fields} />
              <RecordingLink event={e} />
            </td>
          </tr>
        )}
        empty={page > 1 ? "No more events." : "No events match the filters."}
        loading="Loading events…"
      />
      <Pager
        label="Audit log"
        page={page}
        hasNext={events.data?.next_offset != null}
        perPage={perPage}
        busy={events.loading}
        onPage={(next) => show(applied, next, perPage)}
        onPerPage={(size) => show(applied, 1, size)}
      />
    </>
  );
}
