/**
 * The fast path of `postern proxy ssh` (lib/net/tunnel_protocol.ts): with
 * `proxy.tunnel_fast_path`, stock `ssh` moves megabytes both ways intact
 * through a plain TCP connection the helper either relays or hands to ssh
 * (`ProxyUseFdpass yes`), through another proxy of the cluster than the one
 * that issued the ticket, audited; a ticket works once, only from the address
 * it was issued to, only sealed by auth; unregistered targets get no ticket;
 * and `--fdpass` against a proxy without the fast path says what to change.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { startCluster, type TestCluster } from "../helpers/cluster.ts";
import { waitForAudit } from "../helpers/gateway.ts";
import { MAIN, posternOnPath, type PosternProcess } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";
import { TICKET_HEADER, TUNNEL_ALPN } from "../../lib/net/tunnel_protocol.ts";
import { certAuthHeaders } from "../../lib/client/proxy_client.ts";
import { FdSocket } from "../../lib/client/fd_socket.ts";

const FAST = "  tunnel_fast_path: true";
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Logs `carol` in with the CLI; returns her POSTERN_HOME and key path. */
async function cliUser(cluster: TestCluster) {
  const user = await cluster.createUser("carol", { logins: ["root"] });
  const home = join(cluster.dir, "carol-home");
  const login = await cluster.cliLogin(user, home);
  assert.equal(login.code, 0, login.stderr);
  const keyPath = join(home, "keys", `127.0.0.1_${cluster.postern.webPort}`, user.name);
  return { home, keyPath };
}

/** `ssh root@saturn <command>` with the `postern proxy ssh` ProxyCommand. */
function ssh(
  user: { home: string; keyPath: string },
  fdpass: boolean,
  command: string,
  stdin: "piped" | "null",
) {
  const helper = `env POSTERN_HOME=${user.home} ${Deno.execPath()} run -A ${MAIN} proxy ssh${
    fdpass ? " --fdpass" : ""
  } %r@%h:%p`;
  return new Deno.Command("ssh", {
    args: [
      ...defaultSshOptions,
      "-i",
      user.keyPath,
      "-o",
      `ProxyCommand=${helper}`,
      ...(fdpass ? ["-o", "ProxyUseFdpass=yes"] : []),
      "root@saturn",
      command,
    ],
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

for (const fdpass of [true, false]) {
  Deno.test(`the fast tunnel${fdpass ? " handed to ssh" : ""} carries megabytes both ways intact`, async () => {
    // Split layout: the load balancer role is played by users reaching proxy B,
    // and tickets are redeemed through auth, whichever proxy took them.
    await using cluster = await startCluster({ split: true, extraConfig: FAST });
    const user = await cliUser(cluster);
    const up = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < up.length; i += 65536) crypto.getRandomValues(up.subarray(i, i + 65536));
    const down = new Uint8Array(7 * 1024 * 1024 + 123);
    for (let i = 0; i < down.length; i += 65536) {
      crypto.getRandomValues(down.subarray(i, i + 65536));
    }
    const downPath = join(cluster.dir, "down.bin");
    await Deno.writeFile(downPath, down);

    const uploading = ssh(user, fdpass, "sha256sum", "piped");
    const writer = uploading.stdin.getWriter();
    const [uploaded] = await Promise.all([
      uploading.output(),
      writer.write(up).then(() => writer.close()).catch(() => {}),
    ]);
    assert.equal(uploaded.code, 0, decode(uploaded.stderr));
    assert.equal(decode(uploaded.stdout).slice(0, 64), sha256(up));

    const downloaded = await ssh(user, fdpass, `cat ${downPath}`, "null").output();
    assert.equal(downloaded.code, 0, decode(downloaded.stderr));
    assert.equal(sha256(downloaded.stdout), sha256(down));

    const end = await waitForAudit(
      cluster,
      "tunnel.end",
      (e) => e.kind === "tcp" && Number(e.bytes_down) > down.length,
    );
    assert.equal(end.user, "carol");
    assert.equal(end.node, "saturn");
  });
}

/** Asks for a ticket over the raw TLS tunnel as `postern proxy ssh` does. */
async function askTicket(
  proxy: PosternProcess,
  keys: { privateKey: string; certificate: string },
  target: { host: string; port?: number },
): Promise<{ status: number; ticket?: string; body: string }> {
  const query = new URLSearchParams({ host: target.host, login: "root", ticket: "1" });
  if (target.port) query.set("port", String(target.port));
  const path = `/v1/webapi/sites/postern/tunnel?${query}`;
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: proxy.webPort,
    caCerts: [await Deno.readTextFile(join(proxy.dataDir, "tls", "cert.pem"))],
    alpnProtocols: [TUNNEL_ALPN],
  });
  const headers = Object.entries(await certAuthHeaders("CONNECT", path, keys))
    .map(([k, v]) => `${k}: ${v}\r\n`).join("");
  await conn.write(new TextEncoder().encode(`CONNECT ${path} HTTP/1.1\r\n${headers}\r\n`));
  const answer = decode(new Uint8Array(await new Response(conn.readable).arrayBuffer()));
  return {
    status: Number(answer.split(" ")[1]),
    ticket: new RegExp(`^${TICKET_HEADER}: (\\S+)`, "im").exec(answer)?.[1],
    body: answer.slice(answer.indexOf("\r\n\r\n") + 4),
  };
}

/** Presents a ticket on a plain connection; returns the proxy's answer line and what followed. */
function present(proxy: PosternProcess, ticket: string, localAddress = "127.0.0.1") {
  const socket = FdSocket.connect("127.0.0.1", proxy.webPort, {
    localAddress,
    timeoutMs: 10_000,
  });
  try {
    socket.writeAll(new TextEncoder().encode(`POSTERN-TICKET ${ticket}\n`));
    const answer = socket.readLine(1024);
    const banner = answer === "POSTERN-OK" ? socket.readLine(256) : null;
    return { answer, banner };
  } finally {
    socket.close();
  }
}

Deno.test("a tunnel ticket opens one tunnel on any proxy, only from its address, and only for a registered node", async () => {
  await using cluster = await startCluster({ split: true, extraConfig: FAST });
  const [a, b] = cluster.proxies;
  const user = await cliUser(cluster);
  const keys = {
    privateKey: await Deno.readTextFile(user.keyPath),
    certificate: (await Deno.readTextFile(`${user.keyPath}-cert.pub`)).trim(),
  };

  const stolen = await askTicket(a, keys, { host: "saturn" });
  assert.equal(stolen.status, 200, stolen.body);
  const fromElsewhere = present(b, stolen.ticket!, "127.0.0.2");
  assert.match(fromElsewhere.answer ?? "", /^POSTERN-ERROR access_denied .*another address/);

  // Issued by proxy A, redeemed through proxy B, then refused by both.
  const issued = await askTicket(a, keys, { host: "saturn" });
  const first = present(b, issued.ticket!);
  assert.equal(first.answer, "POSTERN-OK");
  assert.match(first.banner ?? "", /^SSH-2\.0-/);
  for (const proxy of [a, b]) {
    const again = present(proxy, issued.ticket!);
    assert.match(again.answer ?? "", /^POSTERN-ERROR access_denied .*used already/);
  }

  const forged = present(a, issued.ticket!.slice(0, -4) + "AAAA");
  assert.match(forged.answer ?? "", /^POSTERN-ERROR access_denied .*not valid/);

  const unregistered = await askTicket(a, keys, { host: "127.0.0.1", port: 9 });
  assert.equal(unregistered.status, 404, unregistered.body);
  assert.equal(unregistered.ticket, undefined);
  assert.match(JSON.parse(unregistered.body).error.message, /No node is registered at/);

  for (const proxy of [a, b]) {
    assert.doesNotMatch(proxy.logs(), /internal error|uncaught|unhandled/i);
  }
});

Deno.test("--fdpass against a proxy without the fast path says what to change", async () => {
  await using cluster = await startCluster();
  const user = await cliUser(cluster);
  const result = await ssh(user, true, "true", "null").output();
  assert.notEqual(result.code, 0);
  assert.match(decode(result.stderr), /does not offer the fast tunnel path.*remove --fdpass/);
});

Deno.test("the README's fast path line works verbatim with a fresh HOME", async () => {
  await using cluster = await startCluster({ extraConfig: FAST });
  const user = await cluster.createUser("dave", { logins: ["root"] });
  const home = join(cluster.dir, "dave-home");
  await Deno.mkdir(join(home, ".ssh"), { recursive: true, mode: 0o700 });
  const login = await cluster.cliLogin(user, join(home, ".tsh"));
  assert.equal(login.code, 0, login.stderr);
  const bin = await posternOnPath(cluster.dir);
  await Deno.writeTextFile(
    join(home, ".ssh", "config"),
    "Host *\n    StrictHostKeyChecking yes\n\n",
  );
  // ssh finds ~/.ssh/config through the password database, not $HOME: -F points it at the fresh one.
  const line = "postern config --fdpass >> ~/.ssh/config && ssh root@saturn"
    .replace("ssh root@", "ssh -F ~/.ssh/config root@");
  const child = new Deno.Command("bash", {
    args: ["-c", line],
    env: {
      HOME: home,
      PATH: `${bin}:${Deno.env.get("PATH")}`,
      // Deno's cache stays where it is (it would follow HOME otherwise).
      DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME")!, ".cache", "deno"),
    },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("echo fast path $((6 * 7))\n"));
  await writer.close();
  const result = await child.output();
  const config = await Deno.readTextFile(join(home, ".ssh", "config"));
  assert.equal(result.code, 0, decode(result.stderr) + config);
  assert.match(decode(result.stdout), /fast path 42/);
  assert.match(config, /ProxyUseFdpass yes/);
  await waitForAudit(cluster, "tunnel.start", (e) => e.kind === "tcp" && e.user === "dave");
});
