/**
 * The metrics listener: plain HTTP on `metrics.listen_addr`, answering
 * `GET /metrics` with the process's metrics in Prometheus text format and
 * nothing else. It is separate from the public HTTPS port so that metrics are
 * exposed only where the operator chose (usually 127.0.0.1 or a management
 * network).
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { probeEventLoopLag, registry } from "./metrics.ts";
import { CONTENT_TYPE } from "./registry.ts";
import { listenError } from "../proxy/web/server.ts";

/** A running metrics listener. */
export interface MetricsServer {
  addr: Deno.NetAddr;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` on `hostname:port` until closed.
 *
 * @example
 * ```ts
 * const server = startMetricsServer({ hostname: "127.0.0.1", port: 3081, log });
 * // curl http://127.0.0.1:3081/metrics
 * await server.close();
 * ```
 */
export function startMetricsServer(
  options: { hostname: string; port: number; log: Logger },
): MetricsServer {
  const { log } = options;
  const stopProbing = probeEventLoopLag();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: () => {},
      onError(error) {
        log.error("internal error serving metrics", { error: String(error) });
        return new Response("Internal error; see the postern log.\n", { status: 500 });
      },
    }, (request) => {
      const { pathname } = new URL(request.url);
      if (pathname !== "/metrics") {
        return new Response("Not found: metrics are at /metrics.\n", { status: 404 });
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("Use GET.\n", { status: 405, headers: { allow: "GET, HEAD" } });
      }
      return new Response(registry.render(), { headers: { "content-type": CONTENT_TYPE } });
    });
  } catch (error) {
    stopProbing();
    throw listenError("metrics", options.hostname, options.port, error);
  }
  log.info("metrics listening", {
    addr: `http://${server.addr.hostname}:${server.addr.port}/metrics`,
  });
  return {
    addr: server.addr,
    async close() {
      stopProbing();
      await server.shutdown();
    },
  };
}
