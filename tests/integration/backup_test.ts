/**
 * `postern backup` while postern runs, then `postern restore` into a new data
 * dir: the restored server accepts an existing user's login (password and
 * TOTP) and lists the recordings made before the backup.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions, waitForAudit } from "../helpers/gateway.ts";
import { runPostern, startPosternProcess } from "../helpers/postern.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

Deno.test("a backup taken while postern runs restores into a new data dir with users and recordings", async () => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const session = await runSsh([
    ...defaultSshOptions,
    ...identityOptions(id),
    "-p",
    String(cluster.postern.sshPort),
    "root:saturn@127.0.0.1",
    "echo recorded",
  ]);
  assert.equal(session.stdout, "recorded\n", session.stderr);
  const ended = await waitForAudit(cluster, "session.end", (e) => e.user === "alice");

  const backup = join(cluster.dir, "postern-backup.db");
  const written = await cluster.admin("backup", backup);
  assert.equal(written.code, 0, written.stderr);
  assert.match(written.stdout, /keep it secret/);
  assert.equal((await Deno.stat(backup)).mode! & 0o777, 0o600);
  const again = await cluster.admin("backup", backup);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists; choose a new file name/);

  const restoredDir = join(cluster.dir, "restored");
  const notABackup = join(cluster.dir, "not-a-backup.db");
  await Deno.writeTextFile(notABackup, "hello");
  const refused = await runPostern(["restore", notABackup, "--data-dir", restoredDir]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /not an intact postern backup/);
  const restored = await runPostern(["restore", backup, "--data-dir", restoredDir]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal((await Deno.stat(join(restoredDir, "postern.db"))).mode! & 0o777, 0o600);
  const twice = await runPostern(["restore", backup, "--data-dir", restoredDir]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /already has a store/);

  await using server = await startPosternProcess({ dataDir: restoredDir });
  assert.doesNotMatch(server.logs(), /no users yet/);
  const http = await server.client();
  try {
    const login = await fetch(`${server.url}/v1/webapi/sessions`, {
      method: "POST",
      client: http,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        user: "alice",
        password: alice.password,
        second_factor_token: await cluster.otp(alice),
      }),
    });
    assert.equal(login.status, 200, await login.clone().text());
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    await login.body?.cancel();
    const listed = await fetch(`${server.url}/v1/webapi/sites/postern/recordings`, {
      client: http,
      headers: { cookie },
    });
    const body = await listed.json();
    assert.equal(listed.status, 200, JSON.stringify(body));
    const recording = body.items.find((item: { id: string }) => item.id === ended.session_id);
    assert.ok(recording, `the recording made before the backup: ${JSON.stringify(body)}`);
    assert.equal(recording.user, "alice");
    assert.equal(recording.node, "saturn");
  } finally {
    http.close();
  }
});
