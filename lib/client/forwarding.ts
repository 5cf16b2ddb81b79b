/**
 * `postern ssh -L` and `-R`: port forwarding like OpenSSH's, over the SSH
 * connection `postern ssh` opened (proxy-terminated or end to end).
 *
 * - `-L [bind_address:]port:host:hostport`: listens here (loopback unless a
 *   bind address is given); each connection reaches host:hostport as seen
 *   from the node.
 * - `-R [bind_address:]port:host:hostport`: the node listens (on its loopback
 *   unless its sshd's GatewayPorts allows more); each connection reaches
 *   host:hostport as seen from here.
 *
 * @module
 */

import type { Client, ClientChannel } from "ssh2";
import { BadRequest, Unavailable } from "../errors.ts";
import { acceptForever, AcceptHealth } from "../net/accept.ts";
import { relay } from "../net/relay.ts";

/** One `-L` or `-R` argument. */
export interface ForwardSpec {
  /** Where to listen; empty for the default (loopback). */
  bindAddress: string;
  bindPort: number;
  /** Where connections go. */
  host: string;
  hostPort: number;
}

/**
 * Parses `[bind_address:]port:host:hostport`; IPv6 addresses go in brackets.
 *
 * @param text the flag's value
 * @param flag "-L" or "-R", for the error message
 * @returns the parsed forward
 * @throws BadRequest naming the expected form
 * @example
 * ```ts
 * parseForwardSpec("8080:localhost:80", "-L");
 * // { bindAddress: "", bindPort: 8080, host: "localhost", hostPort: 80 }
 * ```
 */
export function parseForwardSpec(text: string, flag: "-L" | "-R"): ForwardSpec {
  const parts = [...text.matchAll(/\[([^\]]*)\]|([^:]+)/g)].map((m) => m[1] ?? m[2]);
  const port = (value: string | undefined, allowZero: boolean) => {
    const n = Number(value);
    return /^\d{1,5}$/.test(value ?? "") && n < 65536 && (n > 0 || allowZero) ? n : undefined;
  };
  const [bindAddress, bindText, host, hostText] = parts.length === 3 ? ["", ...parts] : parts;
  // -R 0:host:port lets the node choose the port, as in OpenSSH.
  const bindPort = port(bindText, flag === "-R");
  const hostPort = port(hostText, false);
  const valid = (parts.length === 3 || parts.length === 4) && !!host &&
    bindPort !== undefined && hostPort !== undefined;
  if (!valid) {
    throw new BadRequest(
      `${flag} "${text}" is not [bind_address:]port:host:hostport (e.g. ${flag} 8080:localhost:80).`,
    );
  }
  return { bindAddress, bindPort: bindPort!, host, hostPort: hostPort! };
}

/** Forwards that are running; close them when the session ends. */
export interface Forwards {
  close(): void;
}

/**
 * Starts every forward; rejects (having closed those started) when one cannot
 * start, naming it.
 *
 * @param client the SSH connection
 * @param specs `-L` and `-R` forwards
 * @param say prints a status line
 * @returns a handle that stops them
 */
export async function startForwards(
  client: Client,
  specs: { local: ForwardSpec[]; remote: ForwardSpec[] },
  say: (line: string) => void,
): Promise<Forwards> {
  const closers: (() => void)[] = [];
  const forwards = { close: () => closers.splice(0).forEach((close) => close()) };
  try {
    for (const spec of specs.local) closers.push(startLocal(client, spec, say));
    const bound = new Map<number, ForwardSpec>();
    if (specs.remote.length) acceptRemoteConnections(client, bound, say);
    for (const spec of specs.remote) await startRemote(client, spec, bound, say);
  } catch (error) {
    forwards.close();
    throw error;
  }
  return forwards;
}

function describe(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Listens here for `-L`; returns what stops listening. */
function startLocal(client: Client, spec: ForwardSpec, say: (line: string) => void): () => void {
  const hostname = spec.bindAddress || "127.0.0.1";
  const from = describe(hostname, spec.bindPort);
  const to = describe(spec.host, spec.hostPort);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname, port: spec.bindPort });
  } catch (error) {
    throw new Unavailable(`Cannot listen on ${from} for -L: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  say(`Forwarding ${from} -> ${to} (from the node)`);
  let stopping = false;
  void acceptForever(listener, {
    health: new AcceptHealth(`-L ${from}`),
    // Out of descriptors: said once in a while, and the forward keeps listening.
    log: { error: (message, fields) => say(`postern: ${message} (${fields?.error})`), info() {} },
    stopping: () => stopping,
    onConn(conn) {
      const peer = conn.remoteAddr as Deno.NetAddr;
      client.forwardOut(peer.hostname, peer.port, spec.host, spec.hostPort, (error, channel) => {
        if (error) {
          say(`postern: cannot forward a connection to ${to}: ${openFailure(error)}`);
          conn.close();
          return;
        }
        void relay(channel, conn);
      });
    },
  });
  return () => {
    stopping = true;
    try {
      listener.close();
    } catch { /* closed already */ }
  };
}

/** Asks the node to listen for `-R`; records the port it listens on in `bound`. */
async function startRemote(
  client: Client,
  spec: ForwardSpec,
  bound: Map<number, ForwardSpec>,
  say: (line: string) => void,
): Promise<void> {
  const bind = spec.bindAddress || "localhost";
  const port = await new Promise<number>((resolve, reject) =>
    client.forwardIn(bind, spec.bindPort, (error, chosen) => {
      if (error) {
        return reject(
          new Unavailable(
            `The node refused -R on ${describe(bind, spec.bindPort)}: ` +
              "the port may be in use, or forwarding is not allowed for you or by its sshd.",
            { cause: error },
          ),
        );
      }
      // Recorded at once: the first connection may arrive in the same read as this reply.
      const port = chosen || spec.bindPort;
      bound.set(port, spec);
      resolve(port);
    })
  );
  say(
    `Forwarding ${describe(bind, port)} on the node -> ${describe(spec.host, spec.hostPort)}`,
  );
  if (spec.bindPort === 0) say(`Allocated port ${port} for remote forward`);
}

/** Connects each connection the node forwards to the `-R` destination here. */
function acceptRemoteConnections(
  client: Client,
  bound: ReadonlyMap<number, ForwardSpec>,
  say: (line: string) => void,
): void {
  client.on("tcp connection", async (details, accept, reject) => {
    const spec = bound.get(details.destPort);
    if (!spec) return reject();
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: spec.host, port: spec.hostPort });
    } catch (error) {
      say(
        `postern: cannot connect to ${describe(spec.host, spec.hostPort)} for -R: ${
          (error as Error).message
        }`,
      );
      return reject();
    }
    void relay(accept() as ClientChannel, conn);
  });
}

/** The node's or proxy's reason for refusing a channel, from ssh2's error text. */
function openFailure(error: Error): string {
  return error.message.replace(/^\(SSH\) Channel open failure: ?/, "") || "refused";
}
