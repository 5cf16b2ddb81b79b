/**
 * Access ends the moment it is revoked: `postern users lock` ends a user's
 * live proxy-terminated session and `-J` tunnel within a couple of seconds,
 * saying why where the protocol allows, and refuses their certificate from
 * then on; `postern users unlock` lets it in again; `postern users rm` does
 * the same for good.
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import {
  identityOptions,
  spawnSsh,
  type SshProcess,
  waitForAudit,
  writeSshConfig,
} from "../helpers/gateway.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

/** Revocation must take effect within this long (poll interval plus closing). */
const REVOKED_WITHIN_MS = 3_000;

Deno.test("revoking a user ends their live connections and refuses their certificate", async (t) => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const config = await writeSshConfig(cluster, id);
  const port = String(cluster.postern.sshPort);
  const recorded = (
    command: string,
  ) => [...defaultSshOptions, ...identityOptions(id), "-p", port, "root:saturn@127.0.0.1", command];
  const jumped = (command: string) => ["-F", config, "-J", "root@proxy", "root@saturn", command];
  /** Waits until `ssh` exits by itself (stdin stays open); returns its code and how long it took. */
  const ended = async (ssh: SshProcess) => {
    const start = Date.now();
    const code = await ssh.exited(REVOKED_WITHIN_MS + 5_000);
    return { code, ms: Date.now() - start };
  };

  await t.step("users lock ends a recorded session and a -J tunnel, saying why", async () => {
    const session = spawnSsh(recorded("echo started; sleep 60"));
    const tunnel = spawnSsh(jumped("echo tunneled; sleep 60"));
    await session.stdout.waitFor(/started/);
    await tunnel.stdout.waitFor(/tunneled/);
    const locked = await cluster.admin("users", "lock", "alice", "--reason", "offboarding");
    assert.equal(locked.code, 0, locked.stderr);
    assert.match(locked.stdout, /User "alice" locked until unlocked/);
    const [sessionEnd, tunnelEnd] = await Promise.all([ended(session), ended(tunnel)]);
    assert.ok(sessionEnd.ms < REVOKED_WITHIN_MS, `session ended after ${sessionEnd.ms} ms`);
    assert.ok(tunnelEnd.ms < REVOKED_WITHIN_MS, `tunnel ended after ${tunnelEnd.ms} ms`);
    assert.notEqual(sessionEnd.code, 0);
    assert.notEqual(tunnelEnd.code, 0);
    assert.match(
      session.stderr.text,
      /\[postern: access revoked by an administrator \(offboarding\)\]/,
    );
    await waitForAudit(cluster, "connection.revoked", (e) => e.kind === "ssh");
  });

  await t.step("the certificate is refused while the user is locked", async () => {
    const refused = await runSsh(recorded("true"));
    assert.equal(refused.code, 255);
    const tunnel = await runSsh(jumped("true"));
    assert.equal(tunnel.code, 255);
  });

  await t.step("users unlock lets the same certificate in again", async () => {
    const unlocked = await cluster.admin("users", "unlock", "alice");
    assert.equal(unlocked.code, 0, unlocked.stderr);
    const result = await runSsh(recorded("echo back"));
    assert.equal(result.stdout.trim(), "back", result.stderr);
  });

  await t.step("users rm ends a live session too", async () => {
    const session = spawnSsh(recorded("echo started; sleep 60"));
    await session.stdout.waitFor(/started/);
    const removed = await cluster.admin("users", "rm", "alice");
    assert.equal(removed.code, 0, removed.stderr);
    const end = await ended(session);
    assert.ok(end.ms < REVOKED_WITHIN_MS, `session ended after ${end.ms} ms`);
    assert.match(session.stderr.text, /access revoked by an administrator \(user removed\)/);
  });
});
