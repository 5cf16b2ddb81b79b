/**
 * A proxy's recording spool survives an auth outage and a crash: with auth
 * and two proxies as separate processes, a session on proxy A keeps printing
 * a counter while auth is stopped (nothing can be shipped), then A is killed
 * (kill -9) with that output only in its spool. Auth and A restart; A ships
 * the spool and deletes it, and the recording, replayed through proxy B,
 * holds every counter value the owner saw, each once and in order: the
 * re-upload starts from the spool's beginning and auth skips what it has.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { recordingFile } from "../../lib/store/recording_files.ts";
import { proxyArgs, startCluster } from "../helpers/cluster.ts";
import { identityOptions, spawnSsh, waitForAudit } from "../helpers/gateway.ts";
import { startPosternProcess } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

Deno.test("a proxy restarted after an auth outage and kill -9 ships its spool, every line once", async () => {
  await using cluster = await startCluster({ split: true });
  const [proxyA] = cluster.proxies;
  const authServer = cluster.authServer!;
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const bob = await cluster.createUser("bob", { roles: ["admin"], logins: ["root"] });
  const aliceId = await cluster.login(alice);
  const bobWeb = await cluster.webLogin(bob);
  const replayedLines = async () => {
    const replay = await cluster.api(
      "GET",
      `/v1/webapi/sites/postern/recordings/${id}/stream`,
      undefined,
      { cookie: bobWeb.cookie },
    );
    return replay.status === 200 ? counterValues(String(replay.body)) : [];
  };

  const counter = spawnSsh([
    ...defaultSshOptions,
    ...identityOptions(aliceId),
    "-p",
    String(proxyA.sshPort),
    "root:saturn@127.0.0.1",
    "i=0; while :; do echo n$i; i=$((i+1)); sleep 0.05; done",
  ]);
  const start = await waitForAudit(cluster, "session.start", (e) => e.user === "alice", 30_000);
  const id = String(start.session_id);
  // Shipping works before the outage: part of the recording is on auth.
  await eventually(async () => (await replayedLines()).length >= 10, "lines shipped to auth");

  assert.equal(await authServer.stop(), 0);
  const onAuth = counterValues(
    await Deno.readTextFile(recordingFile(join(authServer.dataDir, "recordings"), id)),
  );
  const last = Math.max(...onAuth);
  await counter.stdout.waitFor(new RegExp(`n${last + 40}\\n`), 30_000);
  proxyA.child.kill("SIGKILL");
  const seenByOwner = Math.max(...counterValues(counter.stdout.text));
  await counter.exited(10_000);
  const spool = recordingFile(join(proxyA.dataDir, "recordings"), id);
  const spooled = counterValues(await Deno.readTextFile(spool));
  assert.ok(
    Math.max(...spooled) >= last + 40,
    `the spool ends at n${Math.max(...spooled)}, auth at n${last}`,
  );

  await using _auth = await startPosternProcess({
    dataDir: authServer.dataDir,
    args: ["--roles", "auth"],
    ports: { web: authServer.webPort, ssh: authServer.sshPort, auth: authServer.authPort },
  });
  await using _proxyA = await startPosternProcess({
    dataDir: proxyA.dataDir,
    args: proxyArgs([authServer.authPort]),
  });
  let lines: number[] = [];
  await eventually(async () => {
    lines = await replayedLines();
    return lines.length > 0 && Math.max(...lines) >= seenByOwner;
  }, `the recording to reach n${seenByOwner}`);
  assert.equal(new Set(lines).size, lines.length, "no line was shipped twice");
  assert.deepEqual(lines, lines.map((_, i) => i), "every line, in order");
  await eventually(async () => {
    try {
      await Deno.stat(spool);
      return false;
    } catch (error) {
      return error instanceof Deno.errors.NotFound;
    }
  }, "the shipped spool to be deleted");
});

/** The counter values `n<i>` printed in `text` (terminal output or an asciicast file). */
function counterValues(text: string): number[] {
  return [...text.matchAll(/n(\d+)(?:\\r)?(?:\\n|\n)/g)].map((m) => +m[1]);
}

/** Polls `check` for up to 30 s; fails naming `what`. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`waited 30 s for ${what}`);
}
