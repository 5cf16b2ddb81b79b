import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

Deno.test("a user logs in for a certificate and reaches the node through the proxy subsystem", async () => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const proxy = [...defaultSshOptions, "-i", id.keyPath, "-p", String(cluster.postern.sshPort)]
    .join(" ");
  const result = await runSsh([
    ...defaultSshOptions,
    "-i",
    id.keyPath,
    "-o",
    `ProxyCommand=ssh ${proxy} %r@127.0.0.1 -s proxy:%h:%p`,
    "root@saturn",
    "echo",
    "through-the-proxy",
  ]);
  assert.equal(result.stdout.trim(), "through-the-proxy", result.stderr);
  assert.equal(result.code, 0);
});
