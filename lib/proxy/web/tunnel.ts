/**
 * The HTTPS tunnel behind `postern proxy ssh`: `POST
 * /v1/webapi/sites/<cluster>/tunnel?host=<node>&port=<port>&login=<login>`
 * authenticated by the user's certificate. The request body streams to the
 * node and the node's bytes stream back as the response body (full-duplex
 * HTTP/1.1, chunked both ways), so only :3080 needs to be open and the outer
 * hop is encrypted once, by TLS. Streams carry backpressure end to end.
 *
 * @module
 */

import type { AuthService } from "../../auth/service.ts";
import { AccessDenied, BadRequest, NotFound } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { authorizeTarget, dialNode } from "../dial.ts";
import { certRequestSession } from "./api/cert_auth.ts";
import type { Router } from "./http.ts";

/** Counts bytes flowing through a stream without copying them; `done` runs once at the end. */
function counter(
  count: (n: number) => void,
  done = () => {},
): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      count(chunk.byteLength);
      controller.enqueue(chunk);
    },
    flush: done,
    cancel: done,
  } as Transformer<Uint8Array, Uint8Array>);
}

/** Installs the tunnel route. */
export function tunnelRoute(
  router: Router,
  auth: AuthService,
  log: Logger,
  dialTimeoutMs: number,
): void {
  router.on(
    "POST",
    "/v1/webapi/sites/:cluster/tunnel",
    async (request, { url, params, remoteAddr }) => {
      const authorization = request.headers.get("authorization");
      if (!authorization?.startsWith("PosternCert ")) {
        throw new AccessDenied(
          "The tunnel needs certificate authentication; use `postern proxy ssh`.",
        );
      }
      const session = await certRequestSession(
        auth,
        authorization,
        "POST",
        url.pathname + url.search,
      );
      if (params.cluster !== auth.cluster) throw new NotFound(`No cluster "${params.cluster}".`);
      const host = url.searchParams.get("host");
      const login = url.searchParams.get("login");
      const portText = url.searchParams.get("port");
      if (!host || !login) {
        throw new BadRequest(
          `Query parameters "host" and "login" are required.`,
        );
      }
      const port = portText ? Number(portText) : null;
      if (port !== null && !(Number.isInteger(port) && port > 0 && port < 65536)) {
        throw new BadRequest(`"port" must be a TCP port number.`);
      }
      if (!request.body) throw new BadRequest("The tunnel needs a streaming request body.");
      const { node } = await authorizeTarget(auth, session.identity, login, host, port);
      const conn = await dialNode(node, dialTimeoutMs);
      const user = session.identity.user;
      const base = { node: node.name, addr: node.addr, login, kind: "https" };
      const started = Date.now();
      let bytesUp = 0;
      let bytesDown = 0;
      await auth.audit({ code: "tunnel.start", user, remoteAddr, fields: base });
      let ended = false;
      const finished = () => {
        if (ended) return;
        ended = true;
        auth.audit({
          code: "tunnel.end",
          user,
          remoteAddr,
          fields: {
            ...base,
            bytes_up: bytesUp,
            bytes_down: bytesDown,
            duration_ms: Date.now() - started,
          },
        }).catch((error) => log.error("cannot audit tunnel end", { error: String(error) }));
      };
      request.body.pipeThrough(counter((n) => (bytesUp += n))).pipeTo(conn.writable).catch(
        () => {},
      );
      const body = conn.readable.pipeThrough(counter((n) => (bytesDown += n), finished));
      return new Response(body, {
        headers: { "content-type": "application/octet-stream", "cache-control": "no-store" },
      });
    },
  );
}
