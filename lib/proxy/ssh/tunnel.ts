/**
 * End-to-end tunnels to nodes: the `proxy:<host>:<port>` subsystem (OpenSSH
 * ProxyCommand) and `direct-tcpip` channels (ProxyJump / -J). The target must
 * be a registered node, named or by its registered address, that the user's
 * roles allow: the gateway is never an open relay.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { AuthorizedNode, AuthService } from "../../auth/service.ts";
import type { Logger } from "../../log.ts";
import { relay } from "../../net/relay.ts";
import type { Authenticated } from "./authenticate.ts";
import { connectionOpened, relayedBytes } from "../../metrics/metrics.ts";

/** Parses a `proxy:<host>:<port>` subsystem name (port optional, IPv6 in brackets). */
export function parseProxySubsystem(
  name: string,
): { host: string; port: number | null } | undefined {
  if (!name.startsWith("proxy:")) return undefined;
  const rest = name.slice("proxy:".length);
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : null };
  const [host, port, ...extra] = rest.split(":");
  if (!host || extra.length) return undefined;
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return undefined;
  return { host, port: port === undefined ? null : Number(port) };
}

/** Resolves and authorises, at auth, the target of a tunnel opened by `who`. */
export function authorizeTunnel(
  auth: AuthService,
  who: Authenticated,
  host: string,
  port: number | null,
): Promise<AuthorizedNode> {
  return auth.authorizeTarget(who.proof, { host, port }, who.target.login);
}

/** Pipes a tunnel channel to the node and audits its start and end with byte counts. */
export async function runTunnel(
  channel: Duplex,
  conn: Deno.TcpConn,
  context: {
    auth: AuthService;
    log: Logger;
    who: Authenticated;
    node: AuthorizedNode["node"];
    remoteAddr: string;
    kind: string;
  },
): Promise<void> {
  const { auth, who, node, remoteAddr, kind } = context;
  const started = Date.now();
  const base = { node: node.name, addr: node.addr, login: who.target.login, kind };
  await auth.audit({ code: "tunnel.start", user: who.identity.user, remoteAddr, fields: base });
  const closed = connectionOpened("ssh_tunnel");
  const result = await relay(channel, conn, {
    onBytes: (direction, bytes) => relayedBytes.inc({ kind: "ssh_tunnel", direction }, bytes),
  });
  closed();
  await auth.audit({
    code: "tunnel.end",
    user: who.identity.user,
    remoteAddr,
    success: !result.error,
    fields: {
      ...base,
      bytes_up: result.bytesUp,
      bytes_down: result.bytesDown,
      duration_ms: Date.now() - started,
      ...(result.error ? { error: result.error.message } : {}),
    },
  });
}
