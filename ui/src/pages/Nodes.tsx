/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/nodes`: the nodes the user may reach, with filters and a Connect
 * link per node and login.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { request, sitePath } from "../api.ts";
import { Chips } from "../components/Chips.tsx";
import { DataTable, RefreshButton } from "../components/DataTable.tsx";
import { Field } from "../components/Field.tsx";
import { PageHeader } from "../components/Page.tsx";
import { labelPairs } from "../format.ts";
import { useLoad } from "../hooks.ts";
import { Link, replaceQuery, useLocation } from "../router.tsx";
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
  const nodes = useLoad(
    () => request<Items<Node>>("GET", sitePath(session.cluster, "/nodes")),
    [session.cluster],
  );
  const update = (q: string, label: string) => {
    setSearch(q);
    setLabels(label);
    replaceQuery({ q, label });
  };
  const addLabel = (pair: string) => {
    const terms = labels.split(",").map((t) => t.trim()).filter(Boolean);
    if (!terms.includes(pair)) update(search, [...terms, pair].join(", "));
  };
  const items = (nodes.data?.items ?? []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const shown = items.filter((node) => nodeMatches(node, search, labels));

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
          onValue={(q) => update(q, labels)}
        />
        <Field
          id="node-label"
          name="label"
          label="Label"
          type="search"
          placeholder="key=value"
          spellcheck={false}
          value={labels}
          onValue={(label) => update(search, label)}
        />
        {(search || labels) && (
          <button
            type="button"
            class="btn btn-link"
            onClick={() => update("", "")}
          >
            Clear filters
          </button>
        )}
      </form>
      <DataTable
        testId="nodes-table"
        load={nodes}
        columns={["Name", "Address", "Labels"]}
        actions="Connect"
        rows={shown}
        row={(node) => (
          <tr key={node.name} data-node={node.name}>
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
          Showing {shown.length} of {items.length} nodes.
        </p>
      )}
    </>
  );
}
