/**
 * `postern status --cluster`: what an administrator checks first, from the
 * auth server (its data dir here, or `--auth-server` with an admin identity):
 * auth's version and store, the certificate authorities with fingerprints and
 * ages, every proxy with when it was last heard from, and counts of users,
 * nodes and live sessions.
 *
 * @module
 */

import type { ParsedArgs } from "./args.ts";
import { stringFlag, UsageError } from "./args.ts";
import { adminFlags } from "./context.ts";
import { importLazily } from "./lazy.ts";
import { formatTable } from "./format.ts";
import type { ClusterStatus } from "../auth/service.ts";

/** The flags `postern status` takes for `--cluster`. */
export const clusterStatusFlags = {
  cluster: {
    type: "boolean" as const,
    description: "show the cluster as its auth server sees it (admins)",
  },
  ...adminFlags,
  format: {
    type: "string" as const,
    placeholder: "text|json",
    description: "with --cluster: output format (default text)",
  },
};

/** "3d 4h", "5m", "12s": how long ago `ms` was, roughly. */
function age(ms: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  const units: [string, number][] = [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length ? parts.join(" ") : "0s";
}

/** The status as text for a terminal. */
export function formatClusterStatus(status: ClusterStatus, now = Date.now()): string {
  const { counts } = status;
  return [
    `Cluster:        ${status.cluster}`,
    `Auth version:   postern ${status.version}`,
    `Store:          ${status.storage}, ${
      status.notReadyReason === null ? "ok" : `NOT READY: ${status.notReadyReason}`
    }`,
    `Users: ${counts.users}   Nodes: ${counts.nodes}   Live sessions: ${counts.liveSessions}`,
    "",
    "Certificate authorities",
    formatTable(
      ["KIND", "FINGERPRINT", "CREATED", "AGE"],
      status.authorities.map((ca) => [
        ca.kind,
        ca.fingerprint,
        new Date(ca.created).toISOString(),
        age(ca.created, now),
      ]),
    ),
    "",
    "Auth servers",
    formatTable(
      ["ID", "API ADDRESS", "VERSION", "UP", "LAST SEEN"],
      status.authServers.map((server) => [
        server.id,
        server.addr,
        server.version,
        age(server.started, now),
        `${age(server.lastSeen, now)} ago`,
      ]),
    ),
    "",
    status.proxies.length ? "Proxies" : "Proxies: none registered",
    ...(status.proxies.length
      ? [formatTable(
        ["ID", "WEB", "SSH", "LAST SEEN"],
        status.proxies.map((proxy) => [
          proxy.id,
          proxy.publicAddr,
          proxy.sshPublicAddr,
          `${age(proxy.lastSeen, now)} ago`,
        ]),
      )]
      : []),
  ].join("\n");
}

/** Prints the cluster's status; exit code 1 when the store is not ready. */
export async function showClusterStatus(parsed: ParsedArgs): Promise<number> {
  const format = stringFlag(parsed, "format") ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--format "${format}" is not text or json`);
  }
  const { withAuth } = await importLazily("admin");
  const status = await withAuth(parsed, (auth) => auth.clusterStatus());
  console.log(format === "json" ? JSON.stringify(status, null, 2) : formatClusterStatus(status));
  return status.notReadyReason === null ? 0 : 1;
}
