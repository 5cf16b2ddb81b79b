/**
 * Agent forwarding on the recorded path: stock `ssh -A -p 3023
 * root:saturn@proxy ssh-add -L` lists, on the node, the keys of the user's
 * own ssh-agent; the forward is audited; a role without `agent_forwarding`
 * gets its session without the agent and a line saying why.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster, type TestCluster, type TestIdentity } from "../helpers/cluster.ts";
import { identityOptions, visibleSshOptions, waitForAudit } from "../helpers/gateway.ts";
import { newKeyPair, runSsh, sshKeygen, startSshd } from "../helpers/sshd.ts";

const EXTRA_CONFIG = `
roles:
  - name: no-agent
    logins: [root]
    node_labels: { "*": "*" }
`;

/** A running `ssh-agent -D` on its own socket, holding `keyPath`. */
async function startAgent(dir: string, keyPath: string) {
  const socket = join(dir, "agent.sock");
  const child = new Deno.Command("ssh-agent", {
    args: ["-D", "-a", socket],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 200; i++) {
    try {
      await Deno.lstat(socket);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const added = await new Deno.Command("ssh-add", {
    args: [keyPath],
    env: { SSH_AUTH_SOCK: socket },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(added.code, 0, new TextDecoder().decode(added.stderr));
  return {
    socket,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

function sshA(
  cluster: TestCluster,
  who: TestIdentity,
  socket: string,
  command: string,
  node = "saturn",
) {
  return runSsh([
    ...visibleSshOptions,
    ...identityOptions(who),
    "-A",
    "-p",
    String(cluster.postern.sshPort),
    `root:${node}@127.0.0.1`,
    command,
  ], { env: { SSH_AUTH_SOCK: socket }, timeoutMs: 60_000 });
}

Deno.test("ssh -A on root:saturn@proxy forwards the user's agent, when the role allows it", async (t) => {
  await using cluster = await startCluster({ extraConfig: EXTRA_CONFIG });
  const agentKey = await newKeyPair(cluster.dir, "in-the-agent");
  await using agent = await startAgent(cluster.dir, agentKey.path);
  const keyBody = agentKey.pub.split(" ")[1];

  await t.step("the node lists the user's agent keys", async () => {
    const alice = await cluster.createUser("alice", { logins: ["root"] });
    const id = await cluster.login(alice);
    assert.match((await sshKeygen(["-L", "-f", id.certPath])).stdout, /permit-agent-forwarding/);
    const result = await sshA(cluster, id, agent.socket, "ssh-add -L");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(keyBody.replace(/[+/]/g, "\\$&")));
    const event = await waitForAudit(cluster, "agent.forward", (e) => e.user === "alice");
    assert.equal(event.success, true);
    assert.equal(event.node, "saturn");
    assert.equal(event.login, "root");
  });

  await t.step("a role without agent_forwarding runs without the agent, and says so", async () => {
    const carol = await cluster.createUser("carol", { roles: ["no-agent"], logins: ["root"] });
    const id = await cluster.login(carol);
    const result = await sshA(cluster, id, agent.socket, "ssh-add -L; echo ran");
    assert.match(result.stdout, /ran/);
    assert.doesNotMatch(result.stdout, new RegExp(keyBody.replace(/[+/]/g, "\\$&")));
    assert.match(result.stderr, /your roles do not allow agent forwarding \(ssh -A\)/);
    const event = await waitForAudit(cluster, "agent.forward", (e) => e.user === "carol");
    assert.equal(event.success, false);
    // Nodes reached end to end (ssh -J) refuse it too: the certificate does not permit it.
    assert.doesNotMatch((await sshKeygen(["-L", "-f", id.certPath])).stdout, /permit-agent/);
  });

  await t.step(
    "a node that refuses agent forwarding still runs the session, and says so",
    async () => {
      await using titan = await startSshd({
        trustedUserCAKeys: (await cluster.admin("ca", "export", "--type", "user")).stdout.trim(),
        extraConfig: ["AllowAgentForwarding no"],
      });
      const added = await cluster.admin("nodes", "add", "titan", `127.0.0.1:${titan.port}`);
      assert.equal(added.code, 0, added.stderr);
      const dave = await cluster.createUser("dave", { logins: ["root"] });
      const result = await sshA(
        cluster,
        await cluster.login(dave),
        agent.socket,
        "echo ran",
        "titan",
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "ran\n");
      assert.match(result.stderr, /node "titan" refused agent forwarding/);
      const event = await waitForAudit(cluster, "agent.forward", (e) => e.user === "dave");
      assert.equal(event.success, false);
    },
  );
});
