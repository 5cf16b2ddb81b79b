/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/sessions`: live sessions on every proxy, each joinable as an observer
 * or a peer, and endable by its user or by whoever may end sessions.
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
import { can, useSession } from "../session.tsx";
import { useState } from "preact/hooks";
import { ErrorAlert } from "../components/Alert.tsx";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
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
  const [ending, setEnding] = useState<ActiveSession | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mayEnd = (s: ActiveSession) => s.user === session.user || can(session, "sessions.end");
  const end = async (s: ActiveSession) => {
    setBusy(true);
    try {
      await request("DELETE", sitePath(session.cluster, `/sessions/${encodeURIComponent(s.id)}`));
      setError(null);
      setEnding(null);
      sessions.reload();
    } catch (cause) {
      setError((cause as Error).message);
      setEnding(null);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <PageHeader
        title="Active sessions"
        description="Terminal sessions running now. Join one to watch or to help."
      >
        <RefreshButton load={sessions} />
      </PageHeader>
      <ErrorAlert message={error} />
      {ending && (
        <ConfirmDialog
          title="End this session?"
          confirmLabel="End session"
          busy={busy}
          onConfirm={() => void end(ending)}
          onCancel={() => setEnding(null)}
        >
          {ending.user}'s session as {ending.login} on {ending.node}{" "}
          ends for everyone in it; they are told you ended it.
        </ConfirmDialog>
      )}
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
                {mayEnd(s) && (
                  <button
                    type="button"
                    class="btn btn-small btn-danger"
                    onClick={() => setEnding(s)}
                  >
                    End
                  </button>
                )}
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
