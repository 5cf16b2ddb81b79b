/**
 * Micro benchmark of lib/net on loopback (not a test). Prints MB/s for:
 *
 * 1. raw streams: bytes through a Node Duplex pair, `denoConnDuplex` over
 *    `Deno.Conn` vs `node:net` sockets;
 * 2. an SSH tunnel: OpenSSH `ssh` → ssh2 Server `proxy:` subsystem → sshd, with the
 *    gateway on `denoConnDuplex` + `relay()` vs on `node:net` + `pipe()`, next to
 *    the OpenSSH jump host (`ssh -W` through sshd) and direct OpenSSH.
 *
 * Usage: `deno run -A scripts/bench/net_relay.ts [--mb 200] [--raw-mb 500] [--skip-ssh]`
 * Environment: `READ_SIZE` (bytes per conn read in the gateway, default 65536) and
 * `ONLY` (run only the tunnel rows whose name contains it, e.g. `ONLY=deno`).
 *
 * Several processes share the CPU in the tunnel rows (ssh, the gateway, sshd, each
 * encrypting): compare rows of one run, not across machines.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { once } from "node:events";
import net from "node:net";
import type { Duplex } from "node:stream";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import { denoConnDuplex } from "../../lib/net/conn_duplex.ts";
import { relay } from "../../lib/net/relay.ts";
import { defaultSshOptions, newKeyPair, signUserKey, startSshd } from "../../tests/helpers/sshd.ts";
import { ed25519HostKeyPem } from "../../tests/helpers/keys.ts";

const args = parseArgs(Deno.args);
const CIPHER = "aes128-gcm@openssh.com";
const READ_SIZE = Number(Deno.env.get("READ_SIZE") ?? 65536);
const ONLY = Deno.env.get("ONLY");

function parseArgs(argv: string[]) {
  const value = (name: string, fallback: number) => {
    const at = argv.indexOf(name);
    return at >= 0 ? Number(argv[at + 1]) : fallback;
  };
  return {
    mb: value("--mb", 200),
    rawMb: value("--raw-mb", 500),
    skipSsh: argv.includes("--skip-ssh"),
  };
}

function mbPerSecond(bytes: number, ms: number): string {
  return (bytes / 1e6 / (ms / 1000)).toFixed(0).padStart(5);
}

/** Pumps `total` bytes from `writer` to `reader` with backpressure; returns ms. */
async function pump(writer: Duplex, reader: Duplex, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 1);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    reader.on("data", (data: Buffer) => {
      received += data.length;
      if (received >= total) resolve();
    });
  });
  const started = performance.now();
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!writer.write(chunk)) await once(writer, "drain");
  }
  await done;
  return performance.now() - started;
}

async function rawDeno(total: number): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  const writer = denoConnDuplex(a);
  const reader = denoConnDuplex(b);
  const ms = await pump(writer, reader, total);
  writer.destroy();
  reader.destroy();
  return ms;
}

async function rawNodeNet(total: number): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const accepted = once(server, "connection");
  const writer = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  await once(writer, "connect");
  const [reader] = await accepted as [net.Socket];
  const ms = await pump(writer, reader, total);
  writer.destroy();
  reader.destroy();
  server.close();
  return ms;
}

type Gateway = { port: number; close(): Promise<void> };

/** ssh2 Server with a `proxy:<host>:<port>` subsystem, accepting any login. */
function gatewayServer(
  onTunnel: (channel: Duplex, host: string, port: number) => void,
): ssh2.Server {
  const hostKey = ed25519HostKeyPem();
  return new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on("error", () => {});
    client.on("authentication", (ctx) => ctx.accept());
    client.on("session", (accept) => {
      accept().on("subsystem", (acceptSub, reject, info) => {
        const match = /^proxy:([^:]+):(\d+)$/.exec(info.name);
        if (!match) return reject();
        onTunnel(acceptSub(), match[1], Number(match[2]));
      });
    });
  });
}

function denoGateway(): Gateway {
  const server = gatewayServer(async (channel, hostname, port) => {
    await relay(channel, await Deno.connect({ hostname, port }), { readSize: READ_SIZE });
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) {
      server.injectSocket(denoConnDuplex(conn, { readSize: READ_SIZE }).asSocket());
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    close: async () => {
      listener.close();
      await accepting;
    },
  };
}

async function nodeNetGateway(): Promise<Gateway> {
  const server = gatewayServer((channel, host, port) => {
    const sock = net.connect(port, host);
    sock.on("error", () => channel.destroy());
    channel.pipe(sock).pipe(channel);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Times a shell pipeline; returns ms, or throws with its stderr. */
async function timeShell(script: string): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command("bash", { args: ["-c", script], stderr: "piped" }).output();
  const ms = performance.now() - started;
  if (out.code !== 0) throw new Error(`${script}\n${new TextDecoder().decode(out.stderr)}`);
  return ms;
}

async function sshBench(mb: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "postern-bench-" });
  try {
    const ca = await newKeyPair(dir, "ca");
    const user = await newKeyPair(dir, "user");
    await signUserKey({ caPath: ca.path, pubPath: user.pubPath, principals: ["root"] });
    await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
    const opts = [...defaultSshOptions, "-c", CIPHER, "-i", user.path].join(" ");
    const nodeTarget = `-p ${sshd.port} root@127.0.0.1`;
    const bytes = mb * 1e6;
    const run = async (name: string, via: string) => {
      if (ONLY && !name.includes(ONLY)) return;
      const up = await timeShell(
        `head -c ${bytes} /dev/zero | ssh ${opts} ${via} ${nodeTarget} 'cat > /dev/null'`,
      );
      const down = await timeShell(
        `ssh ${opts} ${via} ${nodeTarget} 'head -c ${bytes} /dev/zero' > /dev/null`,
      );
      console.log(
        `${name.padEnd(44)} up ${mbPerSecond(bytes, up)} MB/s   down ${
          mbPerSecond(bytes, down)
        } MB/s`,
      );
    };
    const viaGateway = (port: number) =>
      `-o ProxyCommand="ssh ${opts} -p ${port} -s x@127.0.0.1 proxy:127.0.0.1:${sshd.port}"`;

    await run("OpenSSH direct", "");
    await run(
      "OpenSSH jump host (ssh -W via sshd)",
      `-o ProxyCommand="ssh ${opts} -W %h:%p ${nodeTarget}"`,
    );
    const denoGw = denoGateway();
    await run("ssh2 gateway on denoConnDuplex + relay()", viaGateway(denoGw.port));
    await denoGw.close();
    const nodeGw = await nodeNetGateway();
    await run("ssh2 gateway on node:net + pipe()", viaGateway(nodeGw.port));
    await nodeGw.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const rawBytes = args.rawMb * 1e6;
console.log(`raw stream, ${args.rawMb} MB one way, loopback:`);
console.log(`  denoConnDuplex      ${mbPerSecond(rawBytes, await rawDeno(rawBytes))} MB/s`);
console.log(`  node:net            ${mbPerSecond(rawBytes, await rawNodeNet(rawBytes))} MB/s`);
if (!args.skipSsh) {
  console.log(`\nSSH tunnel to sshd, ${args.mb} MB each way, outer hop ${CIPHER}:`);
  await sshBench(args.mb);
}
