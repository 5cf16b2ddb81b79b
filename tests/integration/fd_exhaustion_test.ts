/**
 * Descriptor exhaustion from the outside: postern runs under `ulimit -n 256`,
 * connections to its HTTPS port use up every descriptor, an SSH connection
 * meanwhile cannot be accepted; once the HTTPS connections are gone, SSH
 * logins work again and /readyz says ready.
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions } from "../helpers/gateway.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

const FILE_LIMIT = 256;

function openDescriptors(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("the SSH listener survives running out of descriptors and accepts again", async () => {
  await using cluster = await startCluster({ fileLimit: FILE_LIMIT });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const pid = cluster.postern.child.pid;
  const sshArgs = [
    ...defaultSshOptions,
    ...identityOptions(id),
    "-p",
    String(cluster.postern.sshPort),
    "root:saturn@127.0.0.1",
    "echo in",
  ];
  assert.equal((await runSsh(sshArgs)).stdout, "in\n");

  // Connections that never start TLS hold a descriptor each until postern's
  // handshake timeout; open them until postern has none left.
  const holders: Deno.Conn[] = [];
  try {
    while (openDescriptors(pid) < FILE_LIMIT && holders.length < FILE_LIMIT) {
      holders.push(await Deno.connect({ hostname: "127.0.0.1", port: cluster.postern.webPort }));
      if (holders.length % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // One more waits in the HTTPS backlog, and one in the SSH backlog: neither can be accepted.
    holders.push(await Deno.connect({ hostname: "127.0.0.1", port: cluster.postern.webPort }));
    holders.push(await Deno.connect({ hostname: "127.0.0.1", port: cluster.postern.sshPort }));
    await waitFor(
      "an SSH accept failure in the log",
      () => /(ssh|SSH).*Too many open files/.test(cluster.postern.logs()),
    );
  } finally {
    for (const conn of holders) conn.close();
  }

  const after = await runSsh(sshArgs, { timeoutMs: 20_000 });
  assert.equal(after.stdout, "in\n", after.stderr);
  assert.equal(after.code, 0);
  assert.match(cluster.postern.logs(), /cannot accept SSH connections; retrying/);
  const ready = await cluster.api("GET", "/readyz");
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
});
