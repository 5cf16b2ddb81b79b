/**
 * A tiny ssh2 gateway for tests, run the way lib/proxy/ssh/server.ts runs
 * ssh2 (Deno.listen + denoConnDuplex): "none"-style auth that accepts anyone,
 * and a `proxy:<host>:<port>` subsystem relayed to that address with
 * lib/net/relay.ts.
 *
 * @module
 */

// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Connection, Session } from "ssh2";
import { denoConnDuplex } from "../../lib/net/conn_duplex.ts";
import { relay, type RelayResult } from "../../lib/net/relay.ts";
import { ed25519HostKeyPem } from "./keys.ts";

/** Hooks for what a test needs beyond the relay. */
export interface RelayGatewayOptions {
  /** Called first for every connection (e.g. to watch its handshake). */
  onClient?(client: Connection): void;
  /** Called for every session channel (e.g. to answer `exec`). */
  onSession?(session: Session): void;
}

/** Starts the gateway on a free loopback port; dispose it to stop and await every relay. */
export function startRelayGateway(options: RelayGatewayOptions = {}) {
  const relays: Promise<RelayResult>[] = [];
  const server = new ssh2.Server({ hostKeys: [ed25519HostKeyPem()] }, (client) => {
    options.onClient?.(client);
    client.on("error", () => {});
    client.on("authentication", (ctx) => ctx.accept());
    client.on("session", (accept) => {
      const session = accept();
      options.onSession?.(session);
      session.on("subsystem", (acceptSub, reject, info) => {
        const match = /^proxy:([^:]+):(\d+)$/.exec(info.name);
        if (!match) return reject();
        const channel = acceptSub();
        relays.push(
          Deno.connect({ hostname: match[1], port: Number(match[2]) })
            .then((conn) => relay(channel, conn)),
        );
      });
    });
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) server.injectSocket(denoConnDuplex(conn).asSocket());
  })();
  return {
    port: listener.addr.port,
    relays,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(relays);
    },
  };
}
