/**
 * 50 simultaneous tunnels through the SSH gateway, each carrying a full SSH
 * session to the node that moves 1 MB and checks it: one ssh2 connection to
 * the proxy, 25 `proxy:saturn:22` subsystem channels and 25 `direct-tcpip`
 * channels, and over each an ssh2 client logging in to saturn with the same
 * postern certificate and piping random bytes through `sha256sum`.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import { connectSsh, pinnedHostKey } from "../../lib/sshclient/mod.ts";
import { startCluster } from "../helpers/cluster.ts";
import { auditEvents, connectProxy } from "../helpers/gateway.ts";

const TUNNELS = 50;
const BYTES = 1024 * 1024;

function openTunnel(proxy: ssh2.Client, i: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | undefined, channel: ssh2.ClientChannel) =>
      error ? reject(new Error(`tunnel ${i} did not open: ${error.message}`)) : resolve(channel);
    if (i % 2 === 0) proxy.subsys("proxy:saturn:22", done);
    else proxy.forwardOut("127.0.0.1", 0, "saturn", 22, done);
  });
}

/** Runs `sha256sum` on the node with `data` as stdin; returns its output and exit code. */
function sha256OnNode(node: ssh2.Client, data: Uint8Array): Promise<{ out: string; code: number }> {
  return new Promise((resolve, reject) => {
    node.exec("sha256sum", (error, channel) => {
      if (error) return reject(error);
      let out = "";
      let code = -1;
      channel.on("data", (chunk: Buffer) => out += chunk.toString());
      // The node's login shell may print its own noise on stderr (here: pyenv's rc files).
      channel.stderr.resume();
      channel.on("exit", (status: number) => code = status);
      channel.on("close", () => resolve({ out, code }));
      channel.end(data);
    });
  });
}

Deno.test("50 simultaneous tunnels each carry an SSH session with 1 MB intact", async () => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const privateKey = await Deno.readTextFile(id.keyPath);
  const proxy = await connectProxy(cluster, id, "root");
  const started = performance.now();
  try {
    const results = await Promise.all(
      Array.from({ length: TUNNELS }, async (_, i) => {
        const data = new Uint8Array(randomBytes(BYTES));
        const node = await connectSsh({
          sock: await openTunnel(proxy, i),
          username: "root",
          certificate: id.cert,
          privateKey,
          hostKeyVerifier: pinnedHostKey(cluster.sshd.hostKeyPub),
          readyTimeoutMs: 45_000,
          keepaliveIntervalMs: 0,
        });
        try {
          const { out, code } = await sha256OnNode(node, data);
          return { i, out, code, want: createHash("sha256").update(data).digest("hex") };
        } finally {
          node.end();
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${TUNNELS} tunnels × ${BYTES} bytes, handshakes included: ${seconds.toFixed(1)} s`,
    );
    for (const { i, out, code, want } of results) {
      assert.equal(out, `${want}  -\n`, `tunnel ${i} (${i % 2 ? "direct-tcpip" : "subsystem"})`);
      assert.equal(code, 0);
    }
  } finally {
    proxy.end();
  }

  // Every tunnel is audited, with at least the 1 MB it carried up.
  const deadline = Date.now() + 10_000;
  let ends = await auditEvents(cluster, "tunnel.end");
  while (ends.length < TUNNELS && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    ends = await auditEvents(cluster, "tunnel.end");
  }
  assert.equal(ends.length, TUNNELS);
  assert.equal(ends.filter((e) => e.kind === "subsystem").length, TUNNELS / 2);
  for (const end of ends) {
    assert.ok(Number(end.bytes_up) > BYTES, JSON.stringify(end));
    assert.equal(end.success, true, JSON.stringify(end));
  }
});
