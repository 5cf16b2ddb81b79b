/**
 * Recordings on a small disk, from the outside: the recordings directory is a
 * 2 MiB tmpfs. A session whose recording fills it is ended (never left
 * running unrecorded), its end is recorded; a new session is refused with a
 * clear message while free space is below the floor; a session that reaches
 * `recording.max_bytes_per_session` is ended; nothing is logged as a bug.
 */

import assert from "node:assert/strict";
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions, waitForAudit } from "../helpers/gateway.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

async function mountTmpfs(dir: string, size: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const mounted = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir],
  }).output();
  if (!mounted.success) throw new Error(new TextDecoder().decode(mounted.stderr));
}

async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: ["-l", dir] }).output();
}

async function recordingCluster(limits: string[], tmpfsSize: string) {
  const cluster = await startCluster({ extraConfig: ["recording:", ...limits].join("\n") });
  const recordings = join(cluster.postern.dataDir, "recordings");
  await mountTmpfs(recordings, tmpfsSize);
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const ssh = (command: string) =>
    runSsh([
      ...defaultSshOptions,
      ...identityOptions(id),
      "-p",
      String(cluster.postern.sshPort),
      "root:saturn@127.0.0.1",
      command,
    ], { timeoutMs: 30_000 });
  return {
    cluster,
    recordings,
    ssh,
    async [Symbol.asyncDispose]() {
      await cluster.stop();
      await unmount(recordings);
    },
  };
}

/** Writes 4 MB of base64 text, then stays: only the proxy can end it early. */
const LOUD = "head -c 3000000 /dev/zero | base64; sleep 30";

Deno.test("a session whose recording reaches max_bytes_per_session is ended", async () => {
  await using setup = await recordingCluster(
    ["  max_bytes_per_session: 1mb", "  min_free_bytes: 1mb"],
    "8m",
  );
  const { cluster, recordings, ssh } = setup;
  const result = await ssh(LOUD);
  assert.equal(result.timedOut, false);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /recording reached its size limit; session closed/);
  const end = await waitForAudit(cluster, "session.end", () => true);
  assert.match(String(end.reason), /size limit/);
  const size = (await Deno.stat(join(recordings, `${end.session_id}.cast`))).size;
  assert.ok(size <= 1024 * 1024, `the recording has ${size} bytes`);
  assert.ok(result.stdout.length < 1.1 * 1024 * 1024, `${result.stdout.length} bytes were shown`);
  assert.doesNotMatch(
    cluster.postern.logs(),
    /unhandled rejection|uncaught exception|internal error/,
  );
});

Deno.test("a full recordings disk ends the session filling it and refuses new ones", async (t) => {
  await using setup = await recordingCluster(
    ["  max_bytes_per_session: 0", "  min_free_bytes: 512kb"],
    "2m",
  );
  const { cluster, recordings, ssh } = setup;

  await t.step("a session that fills the disk is ended", async () => {
    // Leave more than the floor free.
    const stats = await statfs(recordings);
    await Deno.writeFile(
      join(recordings, "filler"),
      new Uint8Array(stats.bavail * stats.bsize - 700 * 1024),
    );
    const result = await ssh(LOUD);
    assert.equal(result.timedOut, false, cluster.postern.logs());
    assert.notEqual(result.code, 0);
    // The session ends (fail closed), saying why after the output queued before
    // it (lib/net/ssh2_channel_window.ts), and the end's reason is audited below.
    assert.match(result.stderr, /recording unavailable; session closed/);
    const failed = await waitForAudit(
      cluster,
      "session.recording_failed",
      (e) => /space/i.test(String(e.error)),
    );
    const end = await waitForAudit(
      cluster,
      "session.end",
      (e) => e.session_id === failed.session_id,
    );
    assert.equal(end.reason, "recording unavailable; session closed");
  });

  await t.step("below the free-space floor a new session is refused", async () => {
    const result = await ssh("echo should not run");
    assert.doesNotMatch(result.stdout, /should not run/);
    assert.match(result.stderr, /cannot record it \(its disk for recordings is full/);
  });

  assert.doesNotMatch(
    cluster.postern.logs(),
    /unhandled rejection|uncaught exception|internal error/,
  );
});
