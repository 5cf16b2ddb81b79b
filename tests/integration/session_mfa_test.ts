/**
 * Per-session second factor (role option `require_session_mfa`) with stock
 * OpenSSH: after the certificate, `ssh -p 3023 root:saturn@proxy` answers a
 * keyboard-interactive prompt with an authenticator code (through
 * SSH_ASKPASS, as a terminal user would type it); without it the session
 * does not open; a wrong code is refused; within `auth.session_mfa_window`
 * a second session needs no prompt; wrong codes lock the account. A user
 * without the option never sees one. The prompt also through a proxy in the
 * split layout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";
import { auditEvents, identityOptions } from "../helpers/gateway.ts";

const ROLES = `
roles:
  - name: guarded
    logins: ["{{internal.logins}}"]
    node_labels: {"*": "*"}
    require_session_mfa: true
`;

/** `ssh` that may answer prompts through SSH_ASKPASS (no BatchMode). */
const PROMPTING = [
  "-F",
  "/dev/null",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=INFO",
  "-o",
  "ConnectTimeout=5",
  "-o",
  "NumberOfPasswordPrompts=1",
];

Deno.test("require_session_mfa: stock ssh answers a code prompt, then the window spares it", async (t) => {
  await using cluster = await startCluster({ extraConfig: ROLES });
  const mallory = await cluster.createUser("mallory", { roles: ["guarded"], logins: ["root"] });
  const plain = await cluster.createUser("nick", { roles: ["access"], logins: ["root"] });
  const id = await cluster.login(mallory);
  const port = String(cluster.postern.sshPort);
  const askpass = join(cluster.dir, "askpass.sh");
  const answer = join(cluster.dir, "answer");
  await Deno.writeTextFile(askpass, `#!/bin/sh\ncat ${answer}\n`);
  await Deno.chmod(askpass, 0o755);
  const env = { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: ":0" };
  const ssh = (options: string[], who = id, extraEnv: Record<string, string> = {}) =>
    runSsh([...options, ...identityOptions(who), "-p", port, "root:saturn@127.0.0.1", "echo in"], {
      env: extraEnv,
      timeoutMs: 30_000,
    });

  await t.step("without a code (BatchMode) the session does not open", async () => {
    const result = await ssh(defaultSshOptions as string[]);
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /in/);
  });

  await t.step("a wrong code is refused", async () => {
    await Deno.writeTextFile(answer, "000000\n");
    const result = await ssh(PROMPTING, id, env);
    assert.notEqual(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /in/);
    assert.match(result.stderr, /authenticator code was not accepted/);
  });

  await t.step("the code from the authenticator app opens the session", async () => {
    await Deno.writeTextFile(answer, `${await cluster.otp(mallory)}\n`);
    const result = await ssh(PROMPTING, id, env);
    assert.equal(result.stdout.trim(), "in", result.stderr);
    const approvals = await auditEvents(cluster, "session.mfa");
    assert.ok(approvals.some((e) => e.user === "mallory" && e.success), JSON.stringify(approvals));
  });

  await t.step("within the window a second session needs no prompt", async () => {
    const result = await ssh(defaultSshOptions as string[]);
    assert.equal(result.stdout.trim(), "in", result.stderr);
  });

  await t.step("wrong codes lock the account: then even the right one is refused", async () => {
    const oscar = await cluster.createUser("oscar", { roles: ["guarded"], logins: ["root"] });
    const oscarId = await cluster.login(oscar);
    await Deno.writeTextFile(answer, "000000\n");
    for (let i = 0; i < 5; i++) await ssh(PROMPTING, oscarId, env);
    await Deno.writeTextFile(answer, `${await cluster.otp(oscar)}\n`);
    const result = await ssh(PROMPTING, oscarId, env);
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /in/);
    assert.match(result.stderr, /account is locked until/);
  });

  await t.step("a user whose roles do not ask is never prompted", async () => {
    const result = await ssh(defaultSshOptions as string[], await cluster.login(plain));
    assert.equal(result.stdout.trim(), "in", result.stderr);
  });
});

Deno.test("require_session_mfa through a proxy in the split layout", async () => {
  await using cluster = await startCluster({ split: true, extraConfig: ROLES });
  const rita = await cluster.createUser("rita", { roles: ["guarded"], logins: ["root"] });
  const id = await cluster.login(rita);
  const askpass = join(cluster.dir, "askpass.sh");
  await Deno.writeTextFile(askpass, `#!/bin/sh\necho ${await cluster.otp(rita)}\n`);
  await Deno.chmod(askpass, 0o755);
  const target = ["-p", String(cluster.postern.sshPort), "root:saturn@127.0.0.1", "echo in"];
  const refused = await runSsh([...defaultSshOptions, ...identityOptions(id), ...target]);
  assert.notEqual(refused.code, 0);
  const result = await runSsh([...PROMPTING, ...identityOptions(id), ...target], {
    env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: ":0" },
    timeoutMs: 30_000,
  });
  assert.equal(result.stdout.trim(), "in", result.stderr);
});
