/**
 * The data path of `postern proxy ssh` (lib/client/https_tunnel.ts and
 * lib/proxy/web/tunnel.ts): stock `ssh` through the HTTPS tunnel moves
 * megabytes both ways intact, with reads and writes overlapped and batched
 * on both sides, and the proxy audits the bytes it moved.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { waitForAudit } from "../helpers/gateway.ts";
import { MAIN } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

Deno.test("postern proxy ssh carries megabytes both ways intact and audits them", async () => {
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
    `env POSTERN_HOME=${home} ${Deno.execPath()} run -A ${MAIN} proxy ssh %r@%h:%p`;
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
    (e) => e.kind === "https" && Number(e.bytes_down) > down.length,
  );
  assert.equal(end.user, "carol");
  assert.equal(end.node, "saturn");
  assert.ok(Number(end.bytes_up) > 0, JSON.stringify(end));
  const upload = await waitForAudit(
    cluster,
    "tunnel.end",
    (e) => e.kind === "https" && Number(e.bytes_up) > up.length,
  );
  assert.ok(Number(upload.bytes_down) > 1000, JSON.stringify(upload));
});
