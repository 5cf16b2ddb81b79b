/**
 * startAgent() used by the stock OpenSSH tools: `ssh-add` lists, locks and
 * fails to modify it, and `ssh` logs in to a real sshd with nothing but
 * `SSH_AUTH_SOCK` pointing at it.
 */

import assert from "node:assert/strict";
import { startAgent } from "../../lib/client/agent.ts";
import {
  defaultSshOptions,
  newCertifiedUser,
  newKeyPair,
  runSsh,
  sshKeygen,
  startSshd,
} from "../helpers/sshd.ts";

const { dir, ca, user, cert } = await newCertifiedUser("postern-agent-it-");
const stranger = await newKeyPair(dir, "stranger");

/** Runs `ssh-add` against the agent at `socket`; never throws for a non-zero exit. */
async function sshAdd(socket: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command("ssh-add", {
    args,
    env: { SSH_AUTH_SOCK: socket, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** The type and base64 fields of a key line (the comment may differ). */
const keyFields = (line: string) => line.split(" ").slice(0, 2).join(" ");

Deno.test("ssh-add lists the agent's certificate and key; stock ssh logs in with only SSH_AUTH_SOCK", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  const agent = await startAgent({
    privateKey: user.privatePem,
    certificate: cert,
    comment: "alice@postern",
  });
  try {
    const listed = await sshAdd(agent.socketPath, ["-L"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split("\n"), [
      `${keyFields(cert)} alice@postern`,
      `${keyFields(user.pub)} alice@postern`,
    ]);

    const fingerprint = (await sshKeygen(["-l", "-f", user.pubPath])).stdout.split(" ")[1];
    const summary = await sshAdd(agent.socketPath, ["-l"]);
    assert.equal(summary.code, 0, summary.stderr);
    const lines = summary.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      new RegExp(`^256 ${escape(fingerprint)} alice@postern \\(ED25519-CERT\\)$`),
    );
    assert.match(lines[1], new RegExp(`^256 ${escape(fingerprint)} alice@postern \\(ED25519\\)$`));

    const sshArgs = [
      ...defaultSshOptions,
      "-o",
      "IdentitiesOnly=no",
      "-p",
      `${sshd.port}`,
      "root@127.0.0.1",
      "echo ok",
    ];
    const login = await runSsh(sshArgs, { env: { SSH_AUTH_SOCK: agent.socketPath } });
    assert.equal(login.code, 0, `${login.stderr}\n${sshd.logs()}`);
    assert.equal(login.stdout, "ok\n");
    assert.match(sshd.logs(), /Accepted publickey for root .* ED25519-CERT .*ID test/);

    // The control: without the agent the same command cannot log in.
    await agent.close();
    const without = await runSsh(sshArgs, { env: { SSH_AUTH_SOCK: agent.socketPath } });
    assert.equal(without.code, 255);
  } finally {
    await agent.close();
  }
});

Deno.test("ssh-add cannot add or delete identities but can lock and unlock the agent", async () => {
  await using agent = await startAgent({ privateKey: user.privatePem, certificate: cert });

  const add = await sshAdd(agent.socketPath, [stranger.path]);
  assert.notEqual(add.code, 0);
  assert.match(add.stderr, /Could not add identity/);
  const removeAll = await sshAdd(agent.socketPath, ["-D"]);
  assert.notEqual(removeAll.code, 0);
  assert.match(removeAll.stderr, /Failed to remove all identities/);
  const remove = await sshAdd(agent.socketPath, ["-d", user.pubPath]);
  assert.notEqual(remove.code, 0);
  assert.equal((await sshAdd(agent.socketPath, ["-L"])).stdout.trim().split("\n").length, 2);

  // ssh-add reads the lock passphrase through SSH_ASKPASS when forced to.
  const askpass = `${dir}/askpass.sh`;
  await Deno.writeTextFile(askpass, '#!/bin/sh\nprintf "%s\\n" "$TEST_LOCK_PASSPHRASE"\n', {
    mode: 0o700,
  });
  const withPassphrase = (passphrase: string) => ({
    SSH_ASKPASS: askpass,
    SSH_ASKPASS_REQUIRE: "force",
    TEST_LOCK_PASSPHRASE: passphrase,
  });
  const lock = await sshAdd(agent.socketPath, ["-x"], withPassphrase("correct horse"));
  assert.equal(lock.code, 0, lock.stderr);
  const locked = await sshAdd(agent.socketPath, ["-l"]);
  assert.equal(locked.code, 1);
  assert.match(locked.stdout, /The agent has no identities/);

  const wrong = await sshAdd(agent.socketPath, ["-X"], withPassphrase("battery staple"));
  assert.notEqual(wrong.code, 0);
  assert.equal((await sshAdd(agent.socketPath, ["-l"])).code, 1, "still locked");

  const unlock = await sshAdd(agent.socketPath, ["-X"], withPassphrase("correct horse"));
  assert.equal(unlock.code, 0, unlock.stderr);
  assert.equal((await sshAdd(agent.socketPath, ["-l"])).code, 0);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
