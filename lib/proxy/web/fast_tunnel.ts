/**
 * The fast tunnel on the HTTPS port (lib/net/tunnel_protocol.ts): a plain TCP
 * connection that presented a tunnel ticket. Auth redeems the ticket (once,
 * from the address it was issued to) and authorises its grant again; the
 * proxy dials the node, answers `POSTERN-OK` and relays bytes both ways, as
 * the raw tunnel does, audited and tracked for revocation alike.
 *
 * @module
 */

import { PosternError, toUserMessage } from "../../errors.ts";
import { writeAll } from "../../net/bytes.ts";
import { TICKET_ERROR, TICKET_OK } from "../../net/tunnel_protocol.ts";
import { readWhileDialling, relayTunnel } from "./raw_tunnel.ts";
import { connectTunnel, type OpenedTunnel, type TunnelDeps } from "./tunnel.ts";
import { closeQuietly } from "../../net/close_quietly.ts";

const encoder = new TextEncoder();

/**
 * Serves one fast tunnel connection until either side ends it.
 *
 * @param conn the client's connection, past its ticket line
 * @param ticket the ticket it presented
 * @param rest bytes that came after the ticket line
 * @param deps auth, connections, log, dial timeout
 */
export async function serveTicketTunnel(
  conn: Deno.TcpConn,
  ticket: string,
  rest: Uint8Array,
  deps: TunnelDeps,
): Promise<void> {
  const remoteAddr = conn.remoteAddr.hostname;
  const { early, left } = readWhileDialling(conn);
  let tunnel: OpenedTunnel;
  try {
    const authorized = await deps.auth.redeemTunnelTicket(ticket, remoteAddr);
    tunnel = await connectTunnel(deps, authorized, {
      remoteAddr,
      kind: "tcp",
      cancel: left,
    });
  } catch (error) {
    const kind = error instanceof PosternError ? error.kind : "internal";
    const message = toUserMessage(error, deps.log, "fast tunnel").replaceAll(/[\r\n]+/g, " ");
    await writeAll(conn, encoder.encode(`${TICKET_ERROR}${kind} ${message}\n`)).catch(() => {});
    conn.close();
    return;
  }
  conn.setNoDelay(true);
  await relayTunnel(conn, tunnel, encoder.encode(TICKET_OK), rest, early);
  closeQuietly(conn);
}
