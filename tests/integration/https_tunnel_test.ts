/**
 * The data path of `postern proxy ssh` (lib/client/https_tunnel.ts,
 * lib/proxy/web/raw_tunnel.ts and tunnel.ts): stock `ssh` through the HTTPS
 * port moves megabytes both ways intact, over the raw tunnel chosen by ALPN
 * and over the chunked HTTP route (POSTERN_TUNNEL=http), and the proxy audits
 * the bytes it moved.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { waitForAudit } from "../helpers/gateway.ts";
import { MAIN } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";
import { TUNNEL_ALPN } from "../../lib/net/tunnel_protocol.ts";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

for (
  const [kind, env] of [["tls", ""], ["https", "POSTERN_TUNNEL=http "]] as const
) {
  Deno.test(`postern proxy ssh (${kind}) carries megabytes both ways intact and audits them`, () =>
    carriesMegabytes(kind, env));
}

async function carriesMegabytes(kind: string, env: string): Promise<void> {
  await using cluster = await startCluster();
  const user = await cluster.createUser("carol", { logins: ["root"] });
  const home = join(cluster.dir, "carol-home");
  const login = await cluster.cliLogin(user, home);
  assert.equal(login.code, 0, login.stderr);

  const up = new Uint8Array(5 * 1024 * 1024);
  for (let i = 0; i < up.length; i += 65536) crypto.getRandomValues(up.subarray(i, i + 65536));
  const down = new Uint8Array(7 * 1024 * 1024 + 123);
  for (let i = 0; i < down.length; i += 65536) crypto.getRandomValues(down.subarray(i, i + 65536));
  const downPath = join(cluster.dir, "down.bin");
  await Deno.writeFile(downPath, down);

  const proxyCommand =
    `env ${env}POSTERN_HOME=${home} ${Deno.execPath()} run -A ${MAIN} proxy ssh %r@%h:%p`;
  const keyPath = join(home, "keys", `127.0.0.1_${cluster.postern.webPort}`, user.name);
  const ssh = (command: string, stdin: Uint8Array | null) =>
    new Deno.Command("ssh", {
      args: [
        ...defaultSshOptions,
        "-i",
        keyPath,
        "-o",
        `ProxyCommand=${proxyCommand}`,
        "root@saturn",
        command,
      ],
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();

  const uploading = ssh("sha256sum", up);
  const writer = uploading.stdin.getWriter();
  const [uploaded] = await Promise.all([
    uploading.output(),
    writer.write(up).then(() => writer.close()).catch(() => {}),
  ]);
  assert.equal(uploaded.code, 0, new TextDecoder().decode(uploaded.stderr));
  assert.equal(new TextDecoder().decode(uploaded.stdout).slice(0, 64), sha256(up));

  const downloaded = await ssh(`cat ${downPath}`, null).output();
  assert.equal(downloaded.code, 0, new TextDecoder().decode(downloaded.stderr));
  assert.equal(downloaded.stdout.length, down.length);
  assert.equal(sha256(downloaded.stdout), sha256(down));

  const end = await waitForAudit(
    cluster,
    "tunnel.end",
    (e) => e.kind === kind && Number(e.bytes_down) > down.length,
  );
  assert.equal(end.user, "carol");
  assert.equal(end.node, "saturn");
  assert.ok(Number(end.bytes_up) > 0, JSON.stringify(end));
  const upload = await waitForAudit(
    cluster,
    "tunnel.end",
    (e) => e.kind === kind && Number(e.bytes_up) > up.length,
  );
  assert.ok(Number(upload.bytes_down) > 1000, JSON.stringify(upload));
}

Deno.test("the raw tunnel refuses a malformed head and a missing signature with a JSON error", async () => {
  await using cluster = await startCluster();
  const pem = await Deno.readTextFile(join(cluster.postern.dataDir, "tls", "cert.pem"));
  const ask = async (head: string) => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: cluster.postern.webPort,
      caCerts: [pem],
      alpnProtocols: [TUNNEL_ALPN],
    });
    assert.equal((await conn.handshake()).alpnProtocol, TUNNEL_ALPN);
    await conn.write(new TextEncoder().encode(head));
    const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    const [status, body] = [answer.split(" ")[1], answer.slice(answer.indexOf("\r\n\r\n") + 4)];
    return { status: Number(status), message: JSON.parse(body).error.message as string };
  };
  const malformed = await ask("GET / HTTP/1.0\r\n\r\n");
  assert.equal(malformed.status, 400);
  assert.match(malformed.message, /must start with "CONNECT <path> HTTP\/1\.1"/);
  const unsigned = await ask(
    "CONNECT /v1/webapi/sites/postern/tunnel?host=saturn&login=root HTTP/1.1\r\n\r\n",
  );
  assert.equal(unsigned.status, 403);
  assert.match(unsigned.message, /needs certificate authentication/);
});
