/**
 * SIGHUP reloads the config of a running `postern start` (what `systemctl
 * reload` sends): a new role, a new node, the log level and new TLS
 * certificate files take effect while a live SSH session goes on.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { generateSelfSigned } from "../../lib/tls/certificate.ts";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions, spawnSsh } from "../helpers/gateway.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

/** Sends an SSH banner and then garbage to the gateway: the proxy logs a (debug) connection error. */
async function sendGarbage(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode("SSH-2.0-garbage\r\n"));
  await conn.write(new Uint8Array(64).fill(0xff));
  await new Promise((resolve) => setTimeout(resolve, 200));
  conn.close();
}

/** Whether an HTTPS client trusting exactly `cert` gets an answer from `url`. */
async function trusts(url: string, cert: string): Promise<boolean> {
  const client = Deno.createHttpClient({ caCerts: [cert] });
  try {
    const response = await fetch(`${url}/healthz`, { client });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

async function eventually(
  check: () => Promise<boolean>,
  what: string,
  logs: () => string,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

Deno.test("SIGHUP applies new roles, nodes, log level and TLS certificate without ending a session", async () => {
  const tlsDir = await Deno.makeTempDir({ prefix: "postern-reload-tls-" });
  const [first, second] = [
    await generateSelfSigned({ dns: ["localhost"], ips: ["127.0.0.1"] }),
    await generateSelfSigned({ dns: ["localhost"], ips: ["127.0.0.1"] }),
  ];
  const certFile = join(tlsDir, "cert.pem");
  const keyFile = join(tlsDir, "key.pem");
  await Deno.writeTextFile(certFile, first.cert);
  await Deno.writeTextFile(keyFile, first.key, { mode: 0o600 });
  await using cluster = await startCluster({ tls: { certFile, keyFile } });
  const { postern } = cluster;
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const session = spawnSsh([
    ...defaultSshOptions,
    ...identityOptions(id),
    "-p",
    String(postern.sshPort),
    "root:saturn@127.0.0.1",
    "cat",
  ]);
  await session.type("before reload\n");
  await session.stdout.waitFor(/before reload/);

  const refused = await cluster.admin("users", "add", "bob", "--roles", "dba");
  assert.notEqual(refused.code, 0, "the dba role does not exist yet");
  await sendGarbage(postern.sshPort);

  await Deno.writeTextFile(
    postern.configPath,
    [
      "",
      "log:",
      "  level: debug",
      "roles:",
      "  - name: dba",
      "    logins: [postgres]",
      "nodes:",
      "  - name: jupiter",
      `    addr: 127.0.0.1:${cluster.sshd.port}`,
      "",
    ].join("\n"),
    { append: true },
  );
  await Deno.writeTextFile(certFile, second.cert);
  await Deno.writeTextFile(keyFile, second.key);
  postern.child.kill("SIGHUP");
  await eventually(
    () => Promise.resolve(/reloaded the config/.test(postern.logs())),
    "the reload to be logged",
    postern.logs,
  );
  assert.doesNotMatch(postern.logs(), /ssh connection error/, "debug lines before the reload");

  // The session goes on through the reload.
  await session.type("after reload\n");
  await session.stdout.waitFor(/after reload/);

  const added = await cluster.admin("users", "add", "bob", "--roles", "dba");
  assert.equal(added.code, 0, added.stderr);
  const nodes = await cluster.admin("nodes", "ls");
  assert.match(nodes.stdout, /jupiter/);
  await sendGarbage(postern.sshPort);
  await eventually(
    () => Promise.resolve(/ssh connection error/.test(postern.logs())),
    "a debug line after the reload",
    postern.logs,
  );
  assert.ok(await trusts(postern.url, second.cert), "new connections get the new certificate");
  assert.ok(!(await trusts(postern.url, first.cert)), "the old certificate is gone");

  assert.equal(await session.finish(), 0, session.stderr.text);
  assert.match(postern.logs(), /HTTPS certificate reloaded/);
});
