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
import { parseHostPort } from "../../config/schema.ts";
import { BadRequest, NotFound, Unavailable } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { relay } from "../../net/relay.ts";
import type { Authenticated } from "./authenticate.ts";

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

/**
 * Resolves and authorises a tunnel target. A node name may come with any port
 * (OpenSSH passes its default 22); an address must match a registered node's
 * address and port exactly. The exact address is looked up first, so a node
 * on a host's port 22 does not hide another node on the same host.
 */
export async function authorizeTunnel(
  auth: AuthService,
  who: Authenticated,
  host: string,
  port: number | null,
): Promise<AuthorizedNode> {
  const address = `${host.includes(":") ? `[${host}]` : host}:${port ?? 22}`;
  // For a name (or OpenSSH's default port) the name lookup's message fits;
  // for any other port, say which address is unknown.
  const notRegistered = (byName: NotFound) =>
    port === null || port === 22 ? byName : new NotFound(
      `No node is registered at ${address}; the proxy only connects to registered nodes. ` +
        "Run `postern ls` to see the nodes you can reach.",
    );
  let authorized: AuthorizedNode;
  try {
    authorized = await auth.authorizeNode(who.identity, address, who.target.login);
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    authorized = await auth.authorizeNode(who.identity, host, who.target.login).catch(
      (second) => {
        throw second instanceof NotFound ? notRegistered(second) : second;
      },
    );
  }
  if (authorized.node.name !== host && authorized.node.addr !== address) {
    throw notRegistered(new NotFound(`No node is registered at ${address}.`));
  }
  return authorized;
}

/** Dials a node's sshd with a timeout; Unavailable with a one-line reason. */
export async function dialNode(
  node: AuthorizedNode["node"],
  timeoutMs: number,
): Promise<Deno.TcpConn> {
  const addr = parseHostPort(node.addr);
  if (!addr) throw new BadRequest(`Node "${node.name}" has an invalid address "${node.addr}".`);
  const where = `node "${node.name}" (${node.addr})`;
  try {
    const conn = await Deno.connect({
      hostname: addr.hostname,
      port: addr.port,
      signal: AbortSignal.timeout(timeoutMs),
    });
    conn.setNoDelay(true);
    return conn;
  } catch (error) {
    const reason = error instanceof Deno.errors.ConnectionRefused
      ? "connection refused (is sshd running?)"
      : error instanceof DOMException && error.name === "TimeoutError"
      ? `no answer within ${Math.round(timeoutMs / 1000)} s`
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Unavailable(`Cannot reach ${where}: ${reason}.`, { cause: error });
  }
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
  const result = await relay(channel, conn);
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
