/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/audit`: the audit log with filters by event code prefix, user, time
 * window and outcome; events of a session link to its recording.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { request, sitePath } from "../api.ts";
import { DataTable } from "../components/DataTable.tsx";
import { Field } from "../components/Field.tsx";
import { PageHeader } from "../components/Page.tsx";
import { formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { Link, replaceQuery, useLocation } from "../router.tsx";
import { recordingPath } from "./Recordings.tsx";
import { useSession } from "../session.tsx";
import type { AuditEvent, Items } from "../types.ts";

const WINDOWS: Record<string, { label: string; ms: number }> = {
  "1h": { label: "Last hour", ms: 3_600_000 },
  "24h": { label: "Last 24 hours", ms: 86_400_000 },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000 },
};

/** Values of the Outcome filter, which is applied in the browser. */
const OUTCOMES = ["any", "success", "failure"];

/** The page's URL query: the applied filters and the outcome ("any" is left out). */
function filtersQuery(filters: AuditFilters, outcome: string): Record<string, string> {
  return { ...filters, outcome: outcome === "any" ? "" : outcome };
}

/** Event families offered in the code filter before any event is loaded. */
const CODE_PREFIXES = ["cert.", "invite.", "node.", "session.", "ssh.", "tunnel.", "user."];

/** Filters the audit page sends to the server. */
export interface AuditFilters {
  code: string;
  user: string;
  since: string;
}

/** The audit API path for a set of filters, measured back from `now`. */
export function auditPath(cluster: string, filters: AuditFilters, now = Date.now()): string {
  const window = WINDOWS[filters.since] ?? WINDOWS["24h"];
  const params = new URLSearchParams({ since: new Date(now - window.ms).toISOString() });
  if (filters.code.trim()) params.set("code", filters.code.trim());
  if (filters.user.trim()) params.set("user", filters.user.trim());
  params.set("limit", "500");
  return sitePath(cluster, `/audit?${params}`);
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

/** The audit log page. */
export function AuditPage() {
  const { session } = useSession();
  const { query } = useLocation();
  const initial: AuditFilters = {
    code: query.get("code") ?? "",
    user: query.get("user") ?? "",
    since: WINDOWS[query.get("since") ?? ""] ? query.get("since")! : "24h",
  };
  const [draft, setDraft] = useState(initial);
  const [applied, setApplied] = useState(initial);
  const [outcome, setOutcome] = useState(
    OUTCOMES.includes(query.get("outcome") ?? "") ? query.get("outcome")! : "any",
  );
  const events = useLoad(
    () => request<Items<AuditEvent>>("GET", auditPath(session.cluster, applied)),
    [session.cluster, applied.code, applied.user, applied.since],
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
  const shown = items.filter((e) =>
    outcome === "any" || (outcome === "success" ? e.success : !e.success)
  );

  const apply = (filters: AuditFilters) => {
    setDraft(filters);
    setApplied(filters);
    replaceQuery(filtersQuery(filters, outcome));
    if (JSON.stringify(filters) === JSON.stringify(applied)) events.reload();
  };

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Who did what, from where, and whether it worked."
      />
      <form
        class="filters"
        role="search"
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
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
            onChange={(e) => apply({ ...draft, since: e.currentTarget.value })}
          >
            {Object.entries(WINDOWS).map(([value, { label }]) => (
              <option key={value} value={value}>{label}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="audit-outcome">Outcome</label>
          <select
            id="audit-outcome"
            name="outcome"
            value={outcome}
            onChange={(e) => {
              setOutcome(e.currentTarget.value);
              replaceQuery(filtersQuery(applied, e.currentTarget.value));
            }}
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
        rows={shown}
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
        empty="No events match the filters."
        loading="Loading events…"
      />
      {events.data && (
        <p class="muted table-foot" aria-live="polite">
          {shown.length}{" "}
          events{items.length === 500 ? " (the newest 500; narrow the filters)" : ""}.
        </p>
      )}
    </>
  );
}
