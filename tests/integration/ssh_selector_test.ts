/**
 * `postern ssh root@env=test <command>`: the command runs on every node the
 * user may reach with those labels, each output line prefixed with its
 * node's name, and the exit code is the worst one. Nodes are real sshd
 * servers; a node with other labels is left alone.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { runPostern } from "../helpers/postern.ts";
import { startSshd } from "../helpers/sshd.ts";
import { auditEvents } from "../helpers/gateway.ts";

Deno.test("postern ssh login@<label selector> runs on every matching node", async (t) => {
  await using cluster = await startCluster({ labels: { env: "test" } });
  const userCa = (await cluster.admin("ca", "export", "--type", "user")).stdout.trim();
  // Each node says who it is through the environment its sshd sets.
  const node = (name: string) =>
    startSshd({
      trustedUserCAKeys: userCa,
      extraConfig: [`SetEnv NODE_NAME=${name} NODE_EXIT=3 PYENV_REHASH_TIMEOUT=1`],
    });
  await using titan = await node("titan");
  await using pluto = await node("pluto");
  const nodes: [string, number, string][] = [
    ["titan", titan.port, "env=test,team=web"],
    ["pluto", pluto.port, "env=prod"],
  ];
  for (const [name, port, labels] of nodes) {
    const added = await cluster.admin(
      "nodes",
      "add",
      name,
      `127.0.0.1:${port}`,
      "--labels",
      labels,
    );
    assert.equal(added.code, 0, added.stderr);
  }
  const home = join(cluster.dir, "alice-home");
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const login = await cluster.cliLogin(alice, home);
  assert.equal(login.code, 0, login.stderr);
  const postern = (...args: string[]) => runPostern(args, { env: { POSTERN_HOME: home } });

  await t.step("output prefixed with the node, exit code the worst", async () => {
    const result = await postern(
      "ssh",
      "root@env=test",
      "echo out-${NODE_NAME:-saturn}; echo err-${NODE_NAME:-saturn} >&2; exit ${NODE_EXIT:-0}",
    );
    assert.equal(result.code, 3, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n").sort(), [
      "[saturn] out-saturn",
      "[titan ] out-titan",
    ]);
    assert.deepEqual(result.stderr.trim().split("\n").sort(), [
      "[saturn] err-saturn",
      "[titan ] err-titan",
    ]);
    // Each ran as a recorded session.
    const started = (await auditEvents(cluster, "session.start")).map((e) => e.node).sort();
    assert.deepEqual(started, ["saturn", "titan"]);
  });

  await t.step("all nodes succeeding exits 0; several labels narrow the choice", async () => {
    const result = await postern("ssh", "root@env=test,team=web", "echo", "hi");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "[titan] hi\n");
    const prod = await postern("ssh", "root@env=prod", "echo", "hi");
    assert.equal(prod.stdout, "[pluto] hi\n");
  });

  await t.step("no matching node, or no command, is a clear error", async () => {
    const none = await postern("ssh", "root@env=nowhere", "uptime");
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No node you may reach has the labels env=nowhere/);
    const bare = await postern("ssh", "root@env=test");
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /needs a command/);
  });
});
