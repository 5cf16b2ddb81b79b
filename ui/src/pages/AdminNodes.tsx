/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/admin/nodes` (permission "nodes"): register and remove nodes, and
 * show the script that prepares a node's sshd to trust postern.
 *
 * @module
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { request, sitePath } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { Chips } from "../components/Chips.tsx";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { CopyButton } from "../components/CopyButton.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { Field } from "../components/Field.tsx";
import { PageHeader, Section } from "../components/Page.tsx";
import { labelPairs, parseLabels } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import { useSession } from "../session.tsx";
import type { Items, Node } from "../types.ts";

/** Whether `addr` looks like host:port (IPv6 in brackets). */
export function isHostPort(addr: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(addr.trim());
  return m !== null && Number(m[2]) > 0 && Number(m[2]) < 65536;
}

function AddNodeForm({ cluster, onAdded }: { cluster: string; onAdded: () => void }) {
  const [name, setName] = useState("");
  const [addr, setAddr] = useState("");
  const [labels, setLabels] = useState("");
  const { busy, error, setError, run } = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    if (!isHostPort(addr)) {
      return setError(`Cannot use address "${addr}": write it as host:port, e.g. 10.0.0.5:22.`);
    }
    const parsed = parseLabels(labels);
    if (!parsed.ok) return setError(parsed.message);
    void run(async () => {
      await request("POST", sitePath(cluster, "/nodes"), {
        body: { name: name.trim(), addr: addr.trim(), labels: parsed.labels },
      });
      setName("");
      setAddr("");
      setLabels("");
      onAdded();
    });
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-busy={busy}>
      <ErrorAlert message={error} />
      <Field
        id="node-name"
        name="name"
        label="Name"
        required
        spellcheck={false}
        autocapitalize="none"
        pattern="[A-Za-z0-9._\-]{1,63}"
        value={name}
        onValue={setName}
        hint="Letters, digits, '.', '_' or '-'. Users connect to this name."
      />
      <Field
        id="node-addr"
        name="addr"
        label="Address"
        required
        spellcheck={false}
        placeholder="10.0.0.5:22"
        value={addr}
        onValue={setAddr}
        hint="host:port of the node's sshd."
      />
      <Field
        id="node-labels"
        name="labels"
        label="Labels"
        spellcheck={false}
        placeholder="env=prod, team=db"
        value={labels}
        onValue={setLabels}
        hint="key=value pairs, comma-separated. Roles grant access by label."
      />
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>Add node</button>
      </div>
    </form>
  );
}

interface Script {
  node: string;
  text: string;
}

/** The node administration page. */
export function AdminNodesPage() {
  const { session } = useSession();
  const nodes = useLoad(
    () => request<Items<Node>>("GET", sitePath(session.cluster, "/nodes?all=1")),
    [session.cluster],
  );
  const [script, setScript] = useState<Script | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const scriptRef = useRef<HTMLPreElement>(null);
  useEffect(() => {
    scriptRef.current?.scrollIntoView({ block: "nearest" });
    scriptRef.current?.focus({ preventScroll: true });
  }, [script]);
  const items = (nodes.data?.items ?? []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const nodePath = (name: string) =>
    sitePath(session.cluster, `/nodes/${encodeURIComponent(name)}`);

  const showScript = (name: string) =>
    run(async () => {
      const text = await request<string>("GET", `${nodePath(name)}/setup-script`, { text: true });
      setScript({ node: name, text });
    });
  const remove = async (name: string) => {
    await run(async () => {
      await request("DELETE", nodePath(name));
      if (script?.node === name) setScript(null);
      nodes.reload();
    });
    setRemoving(null);
  };

  return (
    <>
      <PageHeader
        title="Manage nodes"
        description="Register the OpenSSH servers postern may connect to."
      />
      <Section id="add-node" title="Add a node">
        <AddNodeForm cluster={session.cluster} onAdded={nodes.reload} />
      </Section>
      <DataTable
        testId="admin-nodes-table"
        load={nodes}
        error={error}
        columns={["Name", "Address", "Labels"]}
        actions="Actions"
        rows={items}
        row={(node) => (
          <tr key={node.name} data-node={node.name}>
            <td data-label="Name" class="strong">{node.name}</td>
            <td data-label="Address" class="mono">{node.addr}</td>
            <td data-label="Labels">
              <Chips items={labelPairs(node.labels)} />
            </td>
            <td class="cell-actions">
              <div class="button-row">
                <button
                  type="button"
                  class="btn btn-small"
                  onClick={() => showScript(node.name)}
                >
                  Setup script
                </button>
                <button
                  type="button"
                  class="btn btn-small btn-danger-outline"
                  onClick={() => setRemoving(node.name)}
                >
                  Remove
                </button>
              </div>
            </td>
          </tr>
        )}
        empty="No nodes yet. Add one above."
        loading="Loading nodes…"
      />
      {script && (
        <Section
          id="setup-script"
          title={`Setup script for ${script.node}`}
          description="Run it as root on the node to prepare its sshd for postern."
        >
          <div class="script-actions">
            <CopyButton text={script.text} label="setup script" />
            <button type="button" class="btn btn-small" onClick={() => setScript(null)}>
              Close
            </button>
          </div>
          <pre
            class="script"
            data-testid="setup-script"
            tabIndex={0}
            ref={scriptRef}
          >{script.text}</pre>
        </Section>
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove node ${removing}?`}
          confirmLabel="Remove node"
          busy={busy}
          onConfirm={() => remove(removing)}
          onCancel={() => setRemoving(null)}
        >
          <p>
            Users will no longer be able to connect to <strong>{removing}</strong> through postern.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
