/**
 * The read-only user commands: `status`, `ls`, `config`, `sessions ls`,
 * `logout`, and fetching recordings for `play`. Calls to the proxy are
 * authenticated with the user's certificate.
 *
 * @module
 */

import { AccessDenied } from "../errors.ts";
import { formatLabels, formatTable } from "../cli/format.ts";
import {
  keyPaths,
  knownHostsPath,
  type LoadedKeys,
  loadKeys,
  loadProfile,
  nodeHostKeyLines,
  removeProfile,
  updateKnownHosts,
} from "./profile.ts";
import { certAuthHeaders, loadTrust, ProxyClient } from "./proxy_client.ts";
import type { NodeView } from "../auth/service.ts";
import { parseCertificateLine } from "../sshcert/certificate.ts";
import { selfInvocation } from "../cli/self.ts";

/** A node as `postern ls` shows it. */
export type ListedNode = NodeView;

async function clientFor(keys: LoadedKeys): Promise<ProxyClient> {
  return new ProxyClient(keys.profile.proxy, await loadTrust(keys.profile.proxy));
}

/** GET with certificate authentication. */
export function signedGet(
  path: string,
): Promise<{ body: Record<string, unknown>; keys: LoadedKeys }> {
  return signedCall("GET", path);
}

/** A request with certificate authentication (GET or DELETE). */
async function signedCall(
  method: "GET" | "DELETE",
  path: string,
): Promise<{ body: Record<string, unknown>; keys: LoadedKeys }> {
  const keys = await loadKeys();
  const client = await clientFor(keys);
  try {
    return { body: await client.signedRequest(method, path, keys), keys };
  } finally {
    client.close();
  }
}

/** `postern sessions end <id>`: ends a live session, whichever proxy runs it. */
export async function endSession(id: string): Promise<void> {
  const profile = await loadProfile();
  await signedCall(
    "DELETE",
    `/v1/webapi/sites/${profile.cluster}/sessions/${encodeURIComponent(id)}`,
  );
}

/** `postern status`. */
export async function status(): Promise<string> {
  const keys = await loadKeys(false);
  const { certificate } = parseCertificateLine(keys.certificate);
  const expired = keys.validBefore.getTime() <= Date.now();
  const left = Math.max(0, keys.validBefore.getTime() - Date.now());
  const hours = Math.floor(left / 3_600_000);
  const minutes = Math.floor((left % 3_600_000) / 60_000);
  return [
    `> Profile URL:  https://${keys.profile.proxy}`,
    `  Logged in as: ${keys.profile.user}`,
    `  Cluster:      ${keys.profile.cluster}`,
    `  Roles:        ${keys.profile.roles.join(", ") || "(none)"}`,
    `  Logins:       ${
      certificate.principals.filter((p) => !p.startsWith("-")).join(", ") || "(none)"
    }`,
    `  SSH proxy:    ${keys.profile.sshProxy}`,
    `  Valid until:  ${keys.validBefore.toISOString()} ${
      expired ? "[EXPIRED: run postern login]" : `[valid for ${hours}h${minutes}m]`
    }`,
  ].join("\n");
}

/** `postern ls [key=value ...]`. */
export async function listNodes(filters: string[]): Promise<ListedNode[]> {
  const profile = await loadProfile();
  const { body } = await signedGet(`/v1/webapi/sites/${profile.cluster}/nodes`);
  const wanted = filters.map((f) => {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new AccessDenied(`Filter "${f}" is not key=value.`);
    return [f.slice(0, eq), f.slice(eq + 1)] as const;
  });
  return (body.items as ListedNode[]).filter((node) =>
    wanted.every(([k, v]) => node.labels[k] === v)
  );
}

/** Table rendering of nodes. */
export function nodesTable(nodes: ListedNode[]): string {
  return formatTable(
    ["NODE", "ADDRESS", "LABELS", "LOGINS"],
    nodes.map((n) => [
      n.name,
      n.addr,
      formatLabels(n.labels),
      n.logins.join(","),
    ]),
  );
}

function quote(path: string): string {
  return `"${path}"`;
}

/**
 * `postern config`: an ssh_config block for stock OpenSSH. Nodes are reached
 * through the proxy's SSH port (`proxy:` subsystem), or with `fdpass` through
 * the fast tunnel on its HTTPS port (`postern proxy ssh --fdpass`).
 */
export async function sshConfig(options: { fdpass?: boolean } = {}): Promise<string> {
  const nodes = await listNodes([]);
  const keys = await loadKeys();
  const { profile, paths } = keys;
  const [sshHost, sshPort] = [
    profile.sshProxy.replace(/:\d+$/, ""),
    profile.sshProxy.match(/:(\d+)$/)?.[1] ?? "3023",
  ];
  // Refresh node keys so nodes added since login are verified too.
  await updateKnownHosts(profile.proxy, "nodes", nodeHostKeyLines(profile, nodes));
  const credentials = [
    `    IdentityFile ${quote(paths.privateKey)}`,
    `    CertificateFile ${quote(paths.certificate)}`,
  ];
  const common = [
    `    UserKnownHostsFile ${quote(knownHostsPath())}`,
    ...credentials,
    "    IdentitiesOnly yes",
  ];
  const patterns = [...nodes.map((n) => n.name), `*.${profile.cluster}`].join(" ");
  return [
    `# postern: OpenSSH configuration for ${profile.user} at ${profile.proxy} (cluster "${profile.cluster}").`,
    "# Add it to ~/.ssh/config (or use it with ssh -F), then: ssh <login>@<node>",
    `Host postern-proxy-${profile.cluster}`,
    `    HostName ${sshHost}`,
    `    Port ${sshPort}`,
    ...common,
    "",
    `# The proxy by its own name, for ssh -J <login>@${sshHost}:${sshPort} and`,
    `# ssh -p ${sshPort} <login>:<node>@${sshHost}; your usual known_hosts still`,
    "# applies to its other ports.",
    `Host ${sshHost}`,
    `    UserKnownHostsFile ${quote(knownHostsPath())} ~/.ssh/known_hosts`,
    ...credentials,
    "",
    `Host ${patterns}`,
    ...common,
    ...(options.fdpass
      ? [
        `    ProxyCommand ${selfInvocation().map(quote).join(" ")} proxy ssh --fdpass %r@%h:%p`,
        "    ProxyUseFdpass yes",
      ]
      : [
        `    ProxyCommand ssh -F /dev/null -p ${sshPort} -i ${
          quote(paths.privateKey)
        } -o CertificateFile=${quote(paths.certificate)} -o UserKnownHostsFile=${
          quote(knownHostsPath())
        } -o IdentitiesOnly=yes %r@${sshHost} -s proxy:%h:%p`,
      ]),
    "",
  ].join("\n");
}

/** `postern sessions ls`: live sessions and recordings the user may see. */
export async function sessionsTables(): Promise<{ live: unknown[]; recordings: unknown[] }> {
  const profile = await loadProfile();
  const [live, recordings] = await Promise.all([
    signedGet(`/v1/webapi/sites/${profile.cluster}/sessions`),
    signedGet(`/v1/webapi/sites/${profile.cluster}/recordings`),
  ]);
  return { live: live.body.items as unknown[], recordings: recordings.body.items as unknown[] };
}

/** Reads a recording: a local .cast file, or a session id fetched from the proxy. */
export async function fetchRecording(idOrFile: string): Promise<string> {
  try {
    return await Deno.readTextFile(idOrFile);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || idOrFile.endsWith(".cast")) throw error;
  }
  const keys = await loadKeys();
  const client = await clientFor(keys);
  try {
    const path = `/v1/webapi/sites/${keys.profile.cluster}/recordings/${
      encodeURIComponent(idOrFile)
    }/stream`;
    const response = await client.raw("GET", path, {
      headers: await certAuthHeaders("GET", path, keys),
    });
    const text = await response.text();
    if (!response.ok) {
      const message = (() => {
        try {
          return JSON.parse(text).error.message;
        } catch {
          return `HTTP ${response.status}`;
        }
      })();
      throw new AccessDenied(`Cannot fetch recording "${idOrFile}": ${message}`);
    }
    return text;
  } finally {
    client.close();
  }
}

/** `postern logout`: removes the keys of the current proxy and the profile. */
export async function logout(): Promise<string> {
  const profile = await loadProfile();
  const paths = keyPaths(profile.proxy, profile.user);
  for (const file of [paths.privateKey, paths.publicKey, paths.certificate]) {
    await Deno.remove(file).catch(() => {});
  }
  await updateKnownHosts(profile.proxy, "proxy", []);
  await updateKnownHosts(profile.proxy, "nodes", []);
  await removeProfile();
  return `Logged out ${profile.user} from ${profile.proxy}.`;
}
