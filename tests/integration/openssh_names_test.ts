/**
 * The names users are told to type work with stock OpenSSH and strict host
 * key checking, trusting only the `@cert-authority` lines postern hands out:
 * a node's name and `<node>.<cluster>`, through ProxyJump, ProxyCommand and
 * the recorded `login:node@proxy` path.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { runPostern } from "../helpers/postern.ts";
import { runSsh, startSshd } from "../helpers/sshd.ts";

Deno.test("node names and <node>.<cluster> work with stock ssh and strict host key checking", async (t) => {
  await using cluster = await startCluster();
  const base = ["--config", cluster.postern.configPath, "--data-dir", cluster.postern.dataDir];
  const pubFile = join(cluster.dir, "titan_host.pub");
  await using titan = await startSshd({
    trustedUserCAKeys: (await cluster.admin("ca", "export", "--type", "user")).stdout.trim(),
    // The host key exists only now: register titan with it (at a placeholder
    // address) to have its certificate signed, then at its real address below.
    hostCertificate: async (hostKeyPub) => {
      await Deno.writeTextFile(pubFile, hostKeyPub);
      await cluster.admin("nodes", "add", "titan", "127.0.0.1:1", "--host-key", hostKeyPub);
      const signed = await runPostern([
        "nodes",
        "host-cert",
        "--name",
        "titan",
        "--pub",
        pubFile,
        ...base,
      ]);
      return signed.stdout.trim();
    },
  });
  await cluster.admin("nodes", "rm", "titan");
  const added = await cluster.admin("nodes", "add", "titan", `127.0.0.1:${titan.port}`);
  assert.equal(added.code, 0, added.stderr);

  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const knownHosts = join(cluster.dir, "known_hosts");
  await Deno.writeTextFile(knownHosts, id.hostCa.join("\n") + "\n");
  const proxy = `127.0.0.1:${cluster.postern.sshPort}`;
  const config = join(cluster.dir, "strict_config");
  await Deno.writeTextFile(
    config,
    [
      "Host *",
      "  StrictHostKeyChecking yes",
      `  UserKnownHostsFile ${knownHosts}`,
      "  GlobalKnownHostsFile /dev/null",
      "  BatchMode yes",
      "  LogLevel ERROR",
      "  IdentitiesOnly yes",
      `  IdentityFile ${id.keyPath}`,
      `  CertificateFile ${id.certPath}`,
      "",
    ].join("\n"),
  );
  const ssh = (...args: string[]) => runSsh(["-F", config, ...args]);

  await t.step("the host CA line covers every node name", () => {
    assert.match(id.hostCa[0], /^@cert-authority \S*\btitan\b/);
    assert.match(id.hostCa[0], /^@cert-authority \S*\*\.postern\b/);
  });

  for (const name of ["titan", "titan.postern"]) {
    await t.step(`ssh -J root@proxy root@${name}`, async () => {
      const result = await ssh("-J", `root@${proxy}`, `root@${name}`, "echo", "jumped");
      assert.equal(result.stdout.trim(), "jumped", result.stderr);
    });

    await t.step(`ProxyCommand ... -s proxy:%h:%p root@${name}`, async () => {
      const result = await ssh(
        "-o",
        `ProxyCommand=ssh -F ${config} -p ${cluster.postern.sshPort} root@127.0.0.1 -s proxy:%h:%p`,
        `root@${name}`,
        "echo",
        "proxied",
      );
      assert.equal(result.stdout.trim(), "proxied", result.stderr);
    });

    await t.step(`ssh -p 3023 root:${name}@proxy (recorded)`, async () => {
      const result = await ssh(
        "-p",
        String(cluster.postern.sshPort),
        `root:${name}@127.0.0.1`,
        "echo",
        "recorded",
      );
      assert.equal(result.stdout.trim(), "recorded", result.stderr);
    });
  }

  await t.step("postern ca export --type host covers the nodes too", async () => {
    const exported = await cluster.admin("ca", "export", "--type", "host");
    assert.equal(exported.stdout.trim(), id.hostCa.join("\n"));
  });
});

Deno.test("postern login pins the plain host keys of nodes without host certificates", async () => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const home = join(cluster.dir, "alice-home");
  const login = await cluster.cliLogin(alice, home);
  assert.equal(login.code, 0, login.stderr);
  // saturn has no host certificate: only its pinned key lets strict checking pass.
  const knownHosts = join(home, "known_hosts");
  assert.match(await Deno.readTextFile(knownHosts), /^saturn,saturn\.postern ssh-ed25519 /m);
  const keys = join(home, "keys", `127.0.0.1_${cluster.postern.webPort}`);
  const config = join(cluster.dir, "pinned_config");
  await Deno.writeTextFile(
    config,
    [
      "Host *",
      "  StrictHostKeyChecking yes",
      `  UserKnownHostsFile ${knownHosts}`,
      "  GlobalKnownHostsFile /dev/null",
      "  BatchMode yes",
      "  LogLevel ERROR",
      "  IdentitiesOnly yes",
      `  IdentityFile ${join(keys, "alice")}`,
      "",
    ].join("\n"),
  );
  for (const name of ["saturn", "saturn.postern"]) {
    const result = await runSsh([
      "-F",
      config,
      "-J",
      `root@127.0.0.1:${cluster.postern.sshPort}`,
      `root@${name}`,
      "echo",
      "pinned",
    ]);
    assert.equal(result.stdout.trim(), "pinned", result.stderr);
  }
});
