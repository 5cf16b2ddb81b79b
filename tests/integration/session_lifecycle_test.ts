/**
 * How proxy-terminated sessions end when something other than the command
 * ends them: a client that leaves while the proxy is still logging in to the
 * node, a proxy stopped with SIGTERM, and a proxy killed outright (its
 * sessions are ended by the next start). In every case nothing stays listed
 * as live and each session has its `session.end` event.
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { connectProxy, identityOptions, spawnSsh, waitForAudit } from "../helpers/gateway.ts";
import { type PosternProcess, startPosternProcess } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

async function sleep(ms: number) {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("sessions end cleanly when the client leaves early or the proxy stops", async (t) => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const aliceId = await cluster.login(alice);
  const web = await cluster.webLogin(alice);
  const liveSessions = async () => {
    const listed = await cluster.api("GET", "/v1/webapi/sites/postern/sessions", undefined, {
      cookie: web.cookie,
    });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    return listed.body.items as { id: string; user: string }[];
  };
  /** Recordings whose session has not ended, as the given proxy lists them. */
  const unended = async (proxy: PosternProcess) => {
    const response = await fetch(`${proxy.url}/v1/webapi/sites/postern/recordings`, {
      client: await proxy.client(),
      headers: { cookie: web.cookie },
    });
    assert.equal(response.status, 200);
    const { items } = await response.json() as { items: { ended: string | null }[] };
    return items.filter((item) => item.ended === null);
  };

  await t.step("a client that leaves during the node login leaves no session behind", async () => {
    for (let i = 0; i < 3; i++) {
      const client = await connectProxy(cluster, aliceId, "root:saturn");
      // The proxy confirms the channel at once and logs in to the node after:
      // ending here leaves while that login is under way.
      await new Promise<void>((resolve) =>
        client.exec("sleep 30", () => {
          client.end();
          resolve();
        })
      );
    }
    await sleep(1500);
    assert.deepEqual(await liveSessions(), []);
  });

  await t.step("SIGTERM ends running sessions, tells their users and records the end", async () => {
    const ssh = spawnSsh([
      ...defaultSshOptions,
      ...identityOptions(aliceId),
      "-p",
      String(cluster.postern.sshPort),
      "root:saturn@127.0.0.1",
      "echo started; sleep 30",
    ]);
    await ssh.stdout.waitFor(/started/);
    const [session] = await liveSessions();
    assert.ok(session, "the session is live");
    assert.equal(await cluster.postern.stop(), 0);
    assert.notEqual(await ssh.finish(), 0);
    assert.match(ssh.stderr.text, /postern is shutting down; reconnect in a moment\./);
    const end = await waitForAudit(cluster, "session.end", (e) => e.session_id === session.id);
    assert.equal(end.reason, "postern is shutting down; reconnect in a moment.");
  });

  await t.step("a killed proxy's sessions are ended by the next start", async () => {
    await using killed = await startPosternProcess({ dataDir: cluster.postern.dataDir });
    const ssh = spawnSsh([
      ...defaultSshOptions,
      ...identityOptions(aliceId),
      "-p",
      String(killed.sshPort),
      "root:saturn@127.0.0.1",
      "echo started; sleep 30",
    ]);
    await ssh.stdout.waitFor(/started/);
    assert.equal((await unended(killed)).length, 1);
    killed.child.kill("SIGKILL");
    await killed.child.status;
    await ssh.finish();

    await using restarted = await startPosternProcess({ dataDir: cluster.postern.dataDir });
    assert.match(restarted.logs(), /ended sessions a previous run left open/);
    assert.deepEqual(await unended(restarted), []);
    await waitForAudit(cluster, "session.end", (e) => e.reason === "proxy restarted");
  });
});
