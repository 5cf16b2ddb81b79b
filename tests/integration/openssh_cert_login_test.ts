/**
 * Interop with OpenSSH alone: a certificate from `POST /v1/webapi/ssh/certs`
 * logs in to a plain `sshd` that trusts the postern user CA, with no postern
 * in the path, only as the logins it names and only while it is valid.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

Deno.test("OpenSSH logs in to sshd directly with a postern certificate, for its logins only", async (t) => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const direct = (login: string, keyPath = id.keyPath, certPath = id.certPath) =>
    runSsh([
      ...defaultSshOptions,
      "-i",
      keyPath,
      "-o",
      `CertificateFile=${certPath}`,
      "-o",
      "IdentitiesOnly=yes",
      "-p",
      String(cluster.sshd.port),
      `${login}@127.0.0.1`,
      "echo ok; id -un",
    ]);

  await t.step("the certificate logs in as root", async () => {
    const result = await direct("root");
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "ok\nroot\n");
    assert.match(cluster.sshd.logs(), /Accepted publickey for root .* ID alice \(serial \d+\) CA/);
  });

  await t.step("the same certificate cannot log in as another user", async () => {
    for (const login of ["nobody", "daemon"]) {
      const result = await direct(login);
      assert.equal(result.code, 255, `${login}: ${result.stdout}`);
      assert.match(result.stderr, /Permission denied/);
      assert.equal(result.stdout, "");
    }
    assert.match(cluster.sshd.logs(), /name is not a listed principal/);
  });

  await t.step("an expired certificate is refused", async () => {
    const brief = await cluster.login(alice, "1s");
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const result = await direct("root", brief.keyPath, brief.certPath);
    assert.equal(result.code, 255, result.stdout);
    assert.match(result.stderr, /Permission denied/);
    assert.match(cluster.sshd.logs(), /Certificate invalid: expired/);
  });
});
