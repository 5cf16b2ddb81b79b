/**
 * Dialling a node on a user's behalf, with a timeout. Every caller passes a
 * node that auth authorised (`authorizeTarget` resolves a tunnel's requested
 * target to a registered node the user's roles allow), so the proxy dials
 * only registered nodes: never an open relay.
 *
 * @module
 */

import type { AuthorizedNode } from "../auth/service.ts";
import { parseHostPort } from "../config/schema.ts";
import { BadRequest, Unavailable } from "../errors.ts";
import { networkFailureReason } from "../net/failure_reason.ts";

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
