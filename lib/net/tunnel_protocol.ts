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
 * @module
 */

/** The ALPN protocol id of the raw tunnel. */
export const TUNNEL_ALPN = "postern-tunnel/1";

/** The method the tunnel head uses and its signature covers. */
export const TUNNEL_METHOD = "CONNECT";

/** Longest head either side accepts. */
export const MAX_HEAD_BYTES = 16 * 1024;
