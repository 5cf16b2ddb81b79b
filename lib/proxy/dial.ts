/**
 * Reaching a node on a user's behalf: resolve the requested target to a
 * registered node (by name, or by its exact registered address), check the
 * user's roles, and dial it with a timeout. Both tunnel kinds (SSH
 * `proxy:`/direct-tcpip and the HTTPS tunnel) go through here, so the proxy
 * dials only registered nodes the user may reach: never an open relay.
 *
 * @module
 */

import type { AuthorizedNode, AuthService, UserProof } from "../auth/service.ts";
import { parseHostPort } from "../config/schema.ts";
import { BadRequest, NotFound, Unavailable } from "../errors.ts";
import { networkFailureReason } from "../net/failure_reason.ts";

/**
 * Resolves and authorises a tunnel target. A node name may come with any port
 * (OpenSSH passes its default 22); an address must match a registered node's
 * address and port exactly. The exact address is looked up first, so a node
 * on a host's port 22 does not hide another node on the same host.
 */
export async function authorizeTarget(
  auth: AuthService,
  proof: UserProof,
  login: string,
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
    authorized = await auth.authorizeNode(proof, address, login);
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    authorized = await auth.authorizeNode(proof, host, login).catch(
      (second) => {
        throw second instanceof NotFound ? notRegistered(second) : second;
      },
    );
  }
  const { name } = authorized.node;
  if (name !== host && `${name}.${auth.cluster}` !== host && authorized.node.addr !== address) {
    throw notRegistered(new NotFound(`No node is registered at ${address}.`));
  }
  return authorized;
}

/**
 * Dials a node's sshd with a timeout; Unavailable with a one-line reason.
 *
 * @param cancel aborted when the user gives up (their channel or connection
 *   closed): the dial stops at once instead of waiting for the timeout
 */
export async function dialNode(
  node: AuthorizedNode["node"],
  timeoutMs: number,
  cancel?: AbortSignal,
): Promise<Deno.TcpConn> {
  const addr = parseHostPort(node.addr);
  if (!addr) throw new BadRequest(`Node "${node.name}" has an invalid address "${node.addr}".`);
  const where = `node "${node.name}" (${node.addr})`;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const conn = await Deno.connect({
      hostname: addr.hostname,
      port: addr.port,
      signal: cancel ? AbortSignal.any([timeout, cancel]) : timeout,
    });
    conn.setNoDelay(true);
    return conn;
  } catch (error) {
    const reason = cancel?.aborted
      ? "the client left before it answered"
      : error instanceof Deno.errors.ConnectionRefused
      ? "connection refused (is sshd running?)"
      : timeout.aborted
      ? `no answer within ${Math.round(timeoutMs / 1000)} s`
      : networkFailureReason(error);
    throw new Unavailable(`Cannot reach ${where}: ${reason}.`, { cause: error });
  }
}
