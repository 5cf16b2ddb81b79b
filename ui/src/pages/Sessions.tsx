/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/sessions`: live sessions, each joinable as an observer or a peer.
 *
 * @module
 */

import { request, sitePath } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { EmptyRow, PageHeader, TableWrap } from "../components/Page.tsx";
import { formatRelative, formatTime } from "../format.ts";
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
        <button type="button" class="btn" onClick={sessions.reload} disabled={sessions.loading}>
          Refresh
        </button>
      </PageHeader>
      <ErrorAlert message={sessions.error} />
      <TableWrap>
        <table class="table table-stack" data-testid="sessions-table">
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">User</th>
              <th scope="col">Login</th>
              <th scope="col">Node</th>
              <th scope="col">Started</th>
              <th scope="col">Parties</th>
              <th scope="col">
                <span class="visually-hidden">Join</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id} data-session-id={s.id}>
                <td data-label="Session" class="mono truncate" title={s.id}>{s.id}</td>
                <td data-label="User">{s.user}</td>
                <td data-label="Login" class="mono">{s.login}</td>
                <td data-label="Node">{s.node}</td>
                <td data-label="Started">
                  <time dateTime={s.started} title={formatTime(s.started)}>
                    {formatRelative(s.started)}
                  </time>
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
                    <button
                      type="button"
                      class="btn btn-small"
                      onClick={() => navigate(joinPath(s.id, "observer"))}
                    >
                      Join as observer
                    </button>
                    <button
                      type="button"
                      class="btn btn-small btn-primary"
                      onClick={() => navigate(joinPath(s.id, "peer"))}
                    >
                      Join as peer
                    </button>
                  </div>
                </td>
              </tr>
            ))}
            {sessions.data && items.length === 0 && (
              <EmptyRow cols={7}>No one is connected right now.</EmptyRow>
            )}
            {!sessions.data && sessions.loading && <EmptyRow cols={7}>Loading sessions…</EmptyRow>}
          </tbody>
        </table>
      </TableWrap>
    </>
  );
}
