/**
 * A proxy-terminated exec session whose `ssh` client is killed, from the
 * outside: the session ends (audited `session.end`, gone from the live list)
 * within 2 s, though the remote command would run for a minute, both when
 * the client was reading and when it had stopped reading first.
 */

import assert from "node:assert/strict";
import { startCluster, type TestCluster } from "../helpers/cluster.ts";
import { auditEvents, identityOptions } from "../helpers/gateway.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

/** The bound under test, plus scheduling slack on a busy 2-core machine. */
const END_WITHIN_MS = 2_000 + 1_000;

async function waitForStart(cluster: TestCluster, before: number): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const starts = await auditEvents(cluster, "session.start");
    if (starts.length > before) return String(starts.at(-1)!.session_id);
    if (Date.now() > deadline) throw new Error("the session did not start");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function endedWithin(cluster: TestCluster, id: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ends = await auditEvents(cluster, "session.end");
    if (ends.some((e) => e.session_id === id)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

Deno.test("a killed ssh client ends its proxy-terminated exec session within 2 s", async (t) => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const sshArgs = (command: string) => [
    ...defaultSshOptions,
    ...identityOptions(id),
    "-p",
    String(cluster.postern.sshPort),
    "root:saturn@127.0.0.1",
    command,
  ];
  let sessions = 0;

  const killedRun = async (command: string, read: boolean) => {
    const child = new Deno.Command("ssh", {
      args: sshArgs(command),
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    // A client that reads drains its output; one that does not lets its
    // pipe, its socket and the proxy's buffers fill up.
    const reading = read ? child.stdout.pipeTo(new WritableStream()) : undefined;
    const session = await waitForStart(cluster, sessions++);
    if (!read) await new Promise((resolve) => setTimeout(resolve, 1_500));
    child.kill("SIGKILL");
    await child.status;
    const killedAt = Date.now();
    const ended = await endedWithin(cluster, session, END_WITHIN_MS);
    await reading?.catch(() => {});
    if (!read) await child.stdout.cancel();
    return { ended, after: Date.now() - killedAt };
  };

  await t.step("while reading a quiet command", async () => {
    const { ended, after } = await killedRun("sleep 60", true);
    assert.ok(ended, `the session was still live ${after} ms after its client was killed`);
  });

  await t.step("after it stopped reading a loud command", async () => {
    const { ended, after } = await killedRun("yes postern; sleep 60", false);
    assert.ok(ended, `the session was still live ${after} ms after its client was killed`);
  });

  // Gone from the live sessions too.
  const bob = await cluster.webLogin(await cluster.createUser("bob", { roles: ["admin"] }));
  const live = await cluster.api("GET", "/v1/webapi/sites/postern/sessions", undefined, {
    cookie: bob.cookie,
  });
  assert.equal(live.status, 200, JSON.stringify(live.body));
  assert.deepEqual(live.body.items, []);
});
