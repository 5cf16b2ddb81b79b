/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/admin/cluster` (permission "nodes"): what an administrator checks
 * first, as the auth server sees it: versions and store, counts, the
 * certificate authorities with fingerprints and ages, and every proxy with
 * when it was last heard from. The same as `postern status --cluster`.
 *
 * @module
 */

import { request, sitePath } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { PageHeader, Section } from "../components/Page.tsx";
import { formatRelative, formatTime } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { useSession } from "../session.tsx";
import type { ClusterStatus } from "../types.ts";

const CA_NAMES: Record<ClusterStatus["authorities"][number]["kind"], string> = {
  user: "SSH user CA",
  host: "SSH host CA",
  tls: "Cluster TLS CA",
};

/** The cluster status page. */
export function ClusterPage() {
  const { session } = useSession();
  const status = useLoad(
    () => request<ClusterStatus>("GET", sitePath(session.cluster, "/status")),
    [session.cluster],
    10_000,
  );
  const data = status.data;
  // The load's error shows once, above everything, not above each table.
  const tableLoad = { data, loading: status.loading, error: null };
  return (
    <>
      <PageHeader
        title="Cluster status"
        description="The cluster as its auth server sees it."
      >
        <button type="button" class="btn" onClick={status.reload} disabled={status.loading}>
          Refresh
        </button>
      </PageHeader>
      <ErrorAlert message={status.error} />
      <Section id="cluster-summary" title="Overview">
        {data
          ? (
            <dl class="details" data-testid="cluster-summary">
              <div>
                <dt>Cluster</dt>
                <dd>{data.cluster}</dd>
              </div>
              <div>
                <dt>Versions</dt>
                <dd>auth {data.auth_version}, this proxy {data.proxy_version}</dd>
              </div>
              <div>
                <dt>Store</dt>
                <dd>
                  {data.store.type === "postgres" ? "PostgreSQL " : "SQLite "}
                  {data.store.ready
                    ? <span class="badge badge-ok">ok</span>
                    : <span class="badge badge-fail">not ready: {data.store.reason}</span>}
                </dd>
              </div>
              <div>
                <dt>Users</dt>
                <dd data-testid="count-users">{data.counts.users}</dd>
              </div>
              <div>
                <dt>Nodes</dt>
                <dd data-testid="count-nodes">{data.counts.nodes}</dd>
              </div>
              <div>
                <dt>Live sessions</dt>
                <dd data-testid="count-live-sessions">{data.counts.live_sessions}</dd>
              </div>
            </dl>
          )
          : <p class="muted">{status.loading ? "Loading…" : "No status."}</p>}
      </Section>
      <Section id="cluster-cas" title="Certificate authorities">
        <DataTable
          testId="cluster-cas-table"
          load={tableLoad}
          columns={["Authority", "Fingerprint", "Created"]}
          rows={data?.authorities ?? []}
          row={(ca) => (
            <tr key={ca.kind} data-ca={ca.kind}>
              <td data-label="Authority" class="strong">{CA_NAMES[ca.kind]}</td>
              <td data-label="Fingerprint" class="mono">{ca.fingerprint}</td>
              <td data-label="Created" title={formatTime(ca.created)}>
                {formatRelative(ca.created)}
              </td>
            </tr>
          )}
          empty="No certificate authority yet."
          loading="Loading…"
        />
      </Section>
      <Section
        id="cluster-auth-servers"
        title="Auth servers"
        description="Each auth server on this store reports itself every 10 seconds."
      >
        <DataTable
          testId="cluster-auth-servers-table"
          load={tableLoad}
          columns={["Auth server", "API address", "Version", "Last seen"]}
          rows={data?.auth_servers ?? []}
          row={(server) => (
            <tr key={server.id} data-auth-server={server.id}>
              <td data-label="Auth server" class="strong mono">{server.id}</td>
              <td data-label="API address" class="mono">{server.addr}</td>
              <td data-label="Version">{server.version}</td>
              <td data-label="Last seen" title={formatTime(server.last_seen)}>
                {formatRelative(server.last_seen)}
              </td>
            </tr>
          )}
          empty="No auth server has reported yet."
          loading="Loading…"
        />
      </Section>
      <Section
        id="cluster-proxies"
        title="Proxies"
        description="A proxy reports its sessions every 10 seconds; one silent for 30 seconds has stopped."
      >
        <DataTable
          testId="cluster-proxies-table"
          load={tableLoad}
          columns={["Proxy", "Web address", "SSH address", "Last seen"]}
          rows={data?.proxies ?? []}
          row={(proxy) => (
            <tr key={proxy.id} data-proxy={proxy.id}>
              <td data-label="Proxy" class="strong mono">{proxy.id}</td>
              <td data-label="Web address" class="mono">{proxy.public_addr}</td>
              <td data-label="SSH address" class="mono">{proxy.ssh_public_addr}</td>
              <td data-label="Last seen" title={formatTime(proxy.last_seen)}>
                {formatRelative(proxy.last_seen)}
              </td>
            </tr>
          )}
          empty="No proxy has registered."
          loading="Loading…"
        />
      </Section>
    </>
  );
}
