/**
 * The raw tunnel protocol on the proxy's HTTPS port, chosen by TLS ALPN so
 * that one port serves both the web (`h2`, `http/1.1`) and tunnels, as
 * Teleport's TLS routing does.
 *
 * After the TLS handshake settles on {@link TUNNEL_ALPN}, the client sends one
 * HTTP/1.1-style head, `CONNECT <path> HTTP/1.1` with an `authorization:
 * PosternCert ...` header signed for method `CONNECT` and that path (the same
 * path and query as the HTTP tunnel route). The proxy answers `HTTP/1.1 200`
 * and from then on the TLS stream carries the node's bytes both ways, with no
 * framing; or it answers an error status with a JSON body and closes. A TLS
 * half-close (close_notify) from the client becomes a half-close toward the
 * node.
 *
 * Why not HTTP: a chunked request and response cost the proxy three TLS
 * records per chunk and the client a decoder in JavaScript; raw bytes after
 * one head halve the proxy's CPU per byte on bulk transfers.
 *
 * The fast path (`proxy.tunnel_fast_path`): a client that adds
 * `{@link TICKET_QUERY}=1` to the signed path asks for a ticket instead. A
 * proxy offering the fast path authorises the request as above and answers
 * `HTTP/1.1 200` with a {@link TICKET_HEADER} header and no body, then
 * closes; one that does not ignores the parameter and opens the tunnel. The
 * client then opens a plain TCP connection to the same port and sends
 * `{@link TICKET_LINE_PREFIX}<ticket>\n`; the proxy redeems the ticket
 * (single use, from the same client address, within 30 s:
 * lib/auth/tunnel_tickets.ts), dials the node and answers
 * `{@link TICKET_OK}` before the node's bytes, or `{@link TICKET_ERROR}<status>
 * <message>\n` and closes. From then on the connection carries the node's
 * bytes unframed and unencrypted by the proxy: SSH inside is encrypted end to
 * end and authenticates the node, so what TLS added was hiding the node's
 * name (the ticket is sealed and hides it too) and the user's identity; what
 * the fast path saves is TLS on both ends and, with OpenSSH's
 * `ProxyUseFdpass`, the helper process's copy.
 *
 * @module
 */

/** The ALPN protocol id of the raw tunnel. */
export const TUNNEL_ALPN = "postern-tunnel/1";

/** The method the tunnel head uses and its signature covers. */
export const TUNNEL_METHOD = "CONNECT";

/** Longest head either side accepts. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** The query parameter of a tunnel head asking for a ticket. */
export const TICKET_QUERY = "ticket";

/** The response header carrying the ticket. */
export const TICKET_HEADER = "postern-ticket";

/** The first line of a fast-path connection, before the ticket. */
export const TICKET_LINE_PREFIX = "POSTERN-TICKET ";

/** The proxy's answer once the node is dialled. */
export const TICKET_OK = "POSTERN-OK\n";

/** The start of the proxy's answer when it refuses the ticket or cannot reach the node. */
export const TICKET_ERROR = "POSTERN-ERROR ";

/** Longest answer line the client reads. */
export const MAX_TICKET_ANSWER_BYTES = 1024;
