/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/sessions`: live sessions, each joinable as an observer or a peer.
 *
 * @module
 */

import { request, sitePath } from "../api.ts";
import { CopyButton } from "../components/CopyButton.tsx";
import { DataTable, RefreshButton } from "../components/DataTable.tsx";
import { PageHeader } from "../components/Page.tsx";
import { RelativeTime } from "../components/Time.tsx";
import { useLoad } from "../hooks.ts";
import { navigate } from "../router.tsx";
import { useSession } from "../session.tsx";
import type { JoinMode } from "../terminal.ts";
import type { ActiveSession, Items } from "../types.ts";

/** Path that joins a session in a given mode. */
export function joinPath(id: string, mode: JoinMode): string {
  return `/web/sessions/${encodeURIComponent(id)}/join?mode=${mode}`;
}

/** The active sessions table; refreshes every 5 seconds. */
export function SessionsPage() {
  const { session } = useSession();
  const sessions = useLoad(
    () => request<Items<ActiveSession>>("GET", sitePath(session.cluster, "/sessions")),
    [session.cluster],
    5000,
  );
  const items = (sessions.data?.items ?? []).slice().sort((a, b) =>
    b.started.localeCompare(a.started)
  );
  return (
    <>
      <PageHeader
        title="Active sessions"
        description="Terminal sessions running now. Join one to watch or to help."
      >
        <RefreshButton load={sessions} />
      </PageHeader>
      <DataTable
        testId="sessions-table"
        load={sessions}
        columns={["Session", "User", "Login", "Node", "Started", "Parties"]}
        actions="Join"
        rows={items}
        row={(s) => (
          <tr key={s.id} data-session-id={s.id}>
            <td data-label="Session">
              <span class="copy-id">
                <code class="truncate" title={s.id}>{s.id}</code>
                <CopyButton text={s.id} label={`session id ${s.id}`} />
              </span>
            </td>
            <td data-label="User">{s.user}</td>
            <td data-label="Login" class="mono">{s.login}</td>
            <td data-label="Node">{s.node}</td>
            <td data-label="Started">
              <RelativeTime iso={s.started} />
            </td>
            <td data-label="Parties">
              <ul class="plain-list">
                {s.parties.map((p, i) => (
                  <li key={`${p.user}-${i}`}>
                    {p.user} <span class="muted">({p.mode})</span>
                  </li>
                ))}
              </ul>
            </td>
            <td class="cell-actions">
              <div class="button-row">
                {(s.join_modes ?? ["observer"]).map((mode) => (
                  <button
                    key={mode}
                    type="button"
                    class={mode === "peer" ? "btn btn-small btn-primary" : "btn btn-small"}
                    title={mode === "peer" ? "Watch and type" : "Watch without typing"}
                    onClick={() => navigate(joinPath(s.id, mode))}
                  >
                    Join as {mode}
                  </button>
                ))}
              </div>
            </td>
          </tr>
        )}
        empty="No one is connected right now."
        loading="Loading sessions…"
      />
    </>
  );
}
