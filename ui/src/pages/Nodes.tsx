/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/nodes`: the nodes the user may reach, with whether each answers,
 * filters, sorting by column, pages, and a Connect link per node and
 * login. Filters, sorting and the page are kept in the URL.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { request, sitePath } from "../api.ts";
import { Chips } from "../components/Chips.tsx";
import { DataTable, RefreshButton } from "../components/DataTable.tsx";
import { Field } from "../components/Field.tsx";
import { PageHeader } from "../components/Page.tsx";
import { pageFromQuery, Pager, perPageFromQuery } from "../components/Pager.tsx";
import { formatTime, labelPairs } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { Link, updateQuery, useLocation } from "../router.tsx";
import { useSession } from "../session.tsx";
import type { Items, Node } from "../types.ts";

/** Whether a node passes the search text and every `key=value` (or `key`) label term. */
export function nodeMatches(node: Node, search: string, labelFilter: string): boolean {
  const pairs = labelPairs(node.labels);
  const needle = search.trim().toLowerCase();
  if (needle) {
    const haystack = [node.name, node.addr, ...pairs].join(" ").toLowerCase();
    if (!needle.split(/\s+/).every((word) => haystack.includes(word))) return false;
  }
  for (const term of labelFilter.split(",").map((t) => t.trim()).filter(Boolean)) {
    const eq = term.indexOf("=");
    if (eq < 0) {
      if (!(term in node.labels)) return false;
    } else {
      const key = term.slice(0, eq).trim();
      const value = term.slice(eq + 1).trim();
      if (node.labels[key] !== value && !(value === "*" && key in node.labels)) return false;
    }
  }
  return true;
}

/** What the nodes table sorts by. */
export type NodeSortKey = "name" | "addr" | "status";

/** A sort from the URL (`name`, `-addr`, ...): its key and direction; by name otherwise. */
export function sortFromQuery(value: string | null): { by: NodeSortKey; descending: boolean } {
  const descending = value?.startsWith("-") ?? false;
  const key = value?.replace(/^-/, "");
  return {
    by: key === "addr" || key === "status" ? key : "name",
    descending,
  };
}

/** Answering nodes first, then those not checked yet, then those that did not answer. */
const STATUS_ORDER = { online: 0, unknown: 1, offline: 2 };

/** Compares two nodes by `by` (ties by name), ascending. */
export function compareNodes(a: Node, b: Node, by: NodeSortKey): number {
  const byName = a.name.localeCompare(b.name);
  if (by === "addr") return a.addr.localeCompare(b.addr, undefined, { numeric: true }) || byName;
  if (by === "status") {
    return STATUS_ORDER[a.status ?? "unknown"] - STATUS_ORDER[b.status ?? "unknown"] || byName;
  }
  return byName;
}

/** The node's state as a badge, with when it was checked and why it is offline. */
function StatusBadge({ node }: { node: Node }) {
  const checked = node.status_checked ? `checked ${formatTime(node.status_checked)}` : "";
  switch (node.status) {
    case "online":
      return <span class="badge badge-ok" title={checked}>Online</span>;
    case "offline":
      return (
        <span class="badge badge-fail" title={[node.status_reason, checked].join("; ")}>
          Offline
        </span>
      );
    default:
      return <span class="badge" title="The proxy is checking whether it answers.">Checking…</span>;
  }
}

/** Path of a new web terminal to `login@node`. */
export function terminalPath(node: string, login: string): string {
  return `/web/terminal/new?${new URLSearchParams({ node, login })}`;
}

function ConnectCell({ node }: { node: Node }) {
  const [login, setLogin] = useState(node.logins[0] ?? "");
  if (node.logins.length === 0) {
    return <span class="muted">No login allowed</span>;
  }
  const id = `login-${node.name}`;
  // A link, not a form: Ctrl/middle-click opens the terminal in a new tab.
  return (
    <div class="connect">
      <select
        id={id}
        name="login"
        aria-label={`Login for ${node.name}`}
        value={login}
        onChange={(e) => setLogin(e.currentTarget.value)}
      >
        {node.logins.map((l) => <option key={l} value={l}>{l}</option>)}
      </select>
      <Link
        href={terminalPath(node.name, login)}
        class="btn btn-primary btn-small"
        title={`Open a terminal on ${node.name} as ${login}`}
      >
        Connect
      </Link>
    </div>
  );
}

/** Why the list is empty for a user whose roles grant no login (an auditor). */
function NoLogins() {
  return (
    <span>
      Your roles give you no login, so there is no node you can open a terminal on. You can{" "}
      <Link href="/web/sessions">watch active sessions</Link> and{" "}
      <Link href="/web/recordings">replay recordings</Link>.
    </span>
  );
}

/** The nodes table. */
export function NodesPage() {
  const { session } = useSession();
  const { query } = useLocation();
  const [search, setSearch] = useState(query.get("q") ?? "");
  const [labels, setLabels] = useState(query.get("label") ?? "");
  const [sort, setSort] = useState(() => sortFromQuery(query.get("sort")));
  const [page, setPage] = useState(() => pageFromQuery(query.get("page")));
  const [perPage, setPerPage] = useState(() => perPageFromQuery(query.get("per_page")));
  // Reloaded now and then: whether nodes answer changes while the page is open.
  const nodes = useLoad(
    () => request<Items<Node>>("GET", sitePath(session.cluster, "/nodes?probe=1")),
    [session.cluster],
    30_000,
  );
  const items = nodes.data?.items ?? [];
  const checking = items.some((node) => node.status === "unknown");
  useEffect(() => {
    // The proxy probes nodes it has not checked lately when they are listed: ask again soon.
    if (!checking) return;
    const timer = setTimeout(nodes.reload, 2_000);
    return () => clearTimeout(timer);
  }, [nodes.data]);

  const show = (
    next: { q?: string; label?: string; sort?: typeof sort; page?: number; perPage?: number },
  ) => {
    const q = next.q ?? search;
    const label = next.label ?? labels;
    const order = next.sort ?? sort;
    const size = next.perPage ?? perPage;
    const at = next.page ?? 1;
    setSearch(q);
    setLabels(label);
    setSort(order);
    setPage(at);
    setPerPage(size);
    updateQuery({
      q,
      label,
      sort: order.by === "name" && !order.descending
        ? ""
        : `${order.descending ? "-" : ""}${order.by}`,
      page: at > 1 ? String(at) : "",
      per_page: size !== 25 ? String(size) : "",
    });
  };
  const addLabel = (pair: string) => {
    const terms = labels.split(",").map((t) => t.trim()).filter(Boolean);
    if (!terms.includes(pair)) show({ label: [...terms, pair].join(", ") });
  };
  const matching = items.filter((node) => nodeMatches(node, search, labels))
    .sort((a, b) => (sort.descending ? -1 : 1) * compareNodes(a, b, sort.by));
  const lastPage = Math.max(1, Math.ceil(matching.length / perPage));
  const shownPage = Math.min(page, lastPage);
  const shown = matching.slice((shownPage - 1) * perPage, shownPage * perPage);

  return (
    <>
      <PageHeader title="Nodes" description="Servers you can open a terminal on.">
        <RefreshButton load={nodes} />
      </PageHeader>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field
          id="node-search"
          name="q"
          label="Search"
          type="search"
          placeholder="Name, address or label"
          value={search}
          onValue={(q) => show({ q })}
        />
        <Field
          id="node-label"
          name="label"
          label="Label"
          type="search"
          placeholder="key=value"
          spellcheck={false}
          value={labels}
          onValue={(label) => show({ label })}
        />
        {(search || labels) && (
          <button
            type="button"
            class="btn btn-link"
            onClick={() => show({ q: "", label: "" })}
          >
            Clear filters
          </button>
        )}
      </form>
      <DataTable
        testId="nodes-table"
        load={nodes}
        columns={["Status", "Name", "Address", "Labels"]}
        actions="Connect"
        rows={shown}
        sort={{
          keys: { Status: "status", Name: "name", Address: "addr" },
          by: sort.by,
          descending: sort.descending,
          onSort: (key) =>
            show({
              sort: {
                by: key as NodeSortKey,
                descending: key === sort.by ? !sort.descending : false,
              },
            }),
        }}
        row={(node) => (
          <tr key={node.name} data-node={node.name} data-status={node.status ?? "unknown"}>
            <td data-label="Status">
              <StatusBadge node={node} />
            </td>
            <td data-label="Name" class="strong">{node.name}</td>
            <td data-label="Address" class="mono">{node.addr}</td>
            <td data-label="Labels">
              <Chips items={labelPairs(node.labels)} onPick={addLabel} />
            </td>
            <td class="cell-actions">
              <ConnectCell node={node} />
            </td>
          </tr>
        )}
        empty={items.length > 0
          ? "No nodes match the filters."
          : session.logins.length === 0
          ? <NoLogins />
          : "No node lets you log in yet: either none is registered or your roles reach none. Ask an administrator."}
        loading="Loading nodes…"
      />
      {nodes.data && (
        <p class="muted table-foot" aria-live="polite">
          {matching.length > perPage
            ? `Showing ${(shownPage - 1) * perPage + 1}–${
              (shownPage - 1) * perPage + shown.length
            } of ${matching.length} matching nodes (${items.length} in all).`
            : `Showing ${matching.length} of ${items.length} nodes.`}
        </p>
      )}
      {matching.length > Math.min(perPage, 10) && (
        <Pager
          label="Nodes"
          page={shownPage}
          hasNext={shownPage < lastPage}
          perPage={perPage}
          onPage={(next) => show({ page: next })}
          onPerPage={(size) => show({ perPage: size })}
        />
      )}
    </>
  );
}
