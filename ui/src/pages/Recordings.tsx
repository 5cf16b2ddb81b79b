/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/recordings`: recorded sessions with Play and Download links.
 *
 * @module
 */

import { request, sitePath } from "../api.ts";
import { DataTable, RefreshButton } from "../components/DataTable.tsx";
import { PageHeader } from "../components/Page.tsx";
import { durationBetween, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { navigate } from "../router.tsx";
import { useSession } from "../session.tsx";
import type { Items, Recording } from "../types.ts";

/** URL of a recording's asciicast; `download` asks for an attachment. */
export function streamUrl(cluster: string, id: string, download = false): string {
  const path = sitePath(cluster, `/recordings/${encodeURIComponent(id)}/stream`);
  return download ? `${path}?download=1` : path;
}

/** The recordings table. */
export function RecordingsPage() {
  const { session } = useSession();
  const recordings = useLoad(
    () => request<Items<Recording>>("GET", sitePath(session.cluster, "/recordings")),
    [session.cluster],
  );
  const items = (recordings.data?.items ?? []).slice().sort((a, b) =>
    b.started.localeCompare(a.started)
  );
  return (
    <>
      <PageHeader title="Recordings" description="Replay terminal sessions recorded by postern.">
        <RefreshButton load={recordings} />
      </PageHeader>
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
                  onClick={() => navigate(`/web/recordings/${encodeURIComponent(r.id)}`)}
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
        empty="No recordings yet."
        loading="Loading recordings…"
      />
    </>
  );
}
