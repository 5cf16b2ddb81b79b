/**
 * File transfer on the recorded path with stock OpenSSH: `sftp` and `scp`
 * (which speaks SFTP) through `root:saturn@proxy`, a fresh HOME and strict
 * host key checking trusting only the `@cert-authority` lines postern hands
 * out. Files arrive byte-identical, every file operation is audited with its
 * path and byte count, and a role without `file_transfer` is refused with a
 * message that says why.
 *
 * OpenSSH's sftp and scp read `user:node@host` as host `user`, so the
 * login:node user name goes in `-o User=...` or an `sftp://`/`scp://` URI.
 */

import assert from "node:assert/strict";
import type { ClientChannel } from "ssh2";
import { join } from "node:path";
import { startCluster, type TestCluster, type TestIdentity } from "../helpers/cluster.ts";
import { connectProxy, waitForAudit } from "../helpers/gateway.ts";
import { randomBytes } from "../helpers/loopback.ts";

const EXTRA_CONFIG = `
roles:
  - name: no-files
    logins: [root]
    node_labels: { "*": "*" }
`;

/** A fresh HOME and an `ssh -F` config with strict host key checking for `who`. */
async function strictClient(cluster: TestCluster, who: TestIdentity, name: string) {
  const home = join(cluster.dir, `${name}-home`);
  await Deno.mkdir(join(home, ".ssh"), { recursive: true });
  const knownHosts = join(home, ".ssh", "known_hosts");
  await Deno.writeTextFile(knownHosts, who.hostCa.join("\n") + "\n");
  const config = join(home, ".ssh", "config");
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
      `  IdentityFile ${who.keyPath}`,
      `  CertificateFile ${who.certPath}`,
      "",
    ].join("\n"),
  );
  /** Runs `cmd` (sftp, scp) with that HOME and config. */
  return async (cmd: string, args: string[], stdin?: string) => {
    const child = new Deno.Command(cmd, {
      args: ["-F", config, ...args],
      env: { HOME: home },
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(stdin));
      await writer.close();
    }
    const out = await child.output();
    clearTimeout(timer);
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  };
}

Deno.test("sftp and scp through root:saturn@proxy: byte-identical, audited, role-checked", async (t) => {
  await using cluster = await startCluster({ extraConfig: EXTRA_CONFIG });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const run = await strictClient(cluster, await cluster.login(alice), "alice");
  const port = String(cluster.postern.sshPort);
  const original = join(cluster.dir, "ten-mb.bin");
  const content = randomBytes(10 * 1024 * 1024);
  await Deno.writeFile(original, content);

  await t.step("sftp put and get of 10 MB", async () => {
    const remote = join(cluster.dir, "uploaded.bin");
    const back = join(cluster.dir, "downloaded.bin");
    const result = await run(
      "sftp",
      ["-b", "-", "-o", "User=root:saturn", "-P", port, "127.0.0.1"],
      `put ${original} ${remote}\nget ${remote} ${back}\n`,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await Deno.readFile(remote), content);
    assert.deepEqual(await Deno.readFile(back), content);

    const written = await waitForAudit(cluster, "sftp.write", (e) => e.path === remote);
    assert.equal(written.user, "alice");
    assert.equal(written.node, "saturn");
    assert.equal(written.login, "root");
    assert.equal(written.bytes_written, content.length);
    const read = await waitForAudit(cluster, "sftp.read", (e) => e.path === remote);
    assert.equal(read.bytes_read, content.length);
    const end = await waitForAudit(
      cluster,
      "sftp.end",
      (e) => e.transfer_id === written.transfer_id,
    );
    assert.equal(end.success, true);
    assert.ok(Number(end.bytes_up) > content.length, JSON.stringify(end));
    await waitForAudit(cluster, "sftp.start", (e) => e.transfer_id === written.transfer_id);
  });

  await t.step("sftp rename, mkdir, rmdir and rm are audited", async () => {
    const dir = join(cluster.dir, "made-by-sftp");
    const a = join(cluster.dir, "uploaded.bin");
    const b = join(cluster.dir, "renamed.bin");
    const result = await run(
      "sftp",
      ["-b", "-", `sftp://root:saturn@127.0.0.1:${port}`],
      `mkdir ${dir}\nrmdir ${dir}\nrename ${a} ${b}\nrm ${b}\n`,
    );
    assert.equal(result.code, 0, result.stderr);
    await waitForAudit(cluster, "sftp.mkdir", (e) => e.path === dir && e.success);
    await waitForAudit(cluster, "sftp.rmdir", (e) => e.path === dir && e.success);
    await waitForAudit(cluster, "sftp.rename", (e) => e.path === a && e.new_path === b);
    await waitForAudit(cluster, "sftp.remove", (e) => e.path === b && e.success);
  });

  await t.step("scp (SFTP protocol) copies 10 MB to the node", async () => {
    const remote = join(cluster.dir, "scp-copy.bin");
    const result = await run("scp", [original, `scp://root:saturn@127.0.0.1:${port}/${remote}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await Deno.readFile(remote), content);
    const written = await waitForAudit(cluster, "sftp.write", (e) => e.path === remote);
    assert.equal(written.bytes_written, content.length);
  });

  await t.step(
    "a stream the proxy cannot audit ends the transfer, and the audit says why",
    async () => {
      const client = await connectProxy(cluster, await cluster.login(alice), "root:saturn");
      try {
        const channel = await new Promise<ClientChannel>((resolve, reject) =>
          client.subsys("sftp", (error, opened) => error ? reject(error) : resolve(opened))
        );
        const closed = new Promise((resolve) => channel.on("close", resolve));
        channel.on("data", () => {});
        // A packet length of 4 GiB - 1: no SFTP server takes that.
        channel.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 3]));
        await closed;
      } finally {
        client.end();
      }
      const end = await waitForAudit(
        cluster,
        "sftp.end",
        (e) => e.user === "alice" && e.success === false,
      );
      assert.match(
        String(end.error),
        /could not follow the SFTP stream: an SFTP packet of 4294967295 bytes/,
      );
    },
  );

  await t.step("a role without file_transfer is refused with a clear message", async () => {
    const carol = await cluster.createUser("carol", { roles: ["no-files"], logins: ["root"] });
    const carolRun = await strictClient(cluster, await cluster.login(carol), "carol");
    const sftp = await carolRun(
      "sftp",
      ["-b", "-", "-o", "User=root:saturn", "-P", port, "127.0.0.1"],
      "ls /\n",
    );
    assert.notEqual(sftp.code, 0);
    assert.match(sftp.stderr, /Your roles do not allow file transfer \(sftp, scp\)/);
    const scp = await carolRun("scp", [original, `scp://root:saturn@127.0.0.1:${port}//tmp/x`]);
    assert.notEqual(scp.code, 0);
    assert.match(scp.stderr, /do not allow file transfer/);
    const refused = await waitForAudit(cluster, "sftp.start", (e) => e.user === "carol");
    assert.equal(refused.success, false);
  });

  await t.step("sftp to the proxy itself says that a node is needed", async () => {
    const result = await run("sftp", ["-b", "-", "-P", port, "root@127.0.0.1"], "ls /\n");
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /file transfer needs a node/);
  });
});

Deno.test("sftp through a proxy of its own: auth decides file_transfer over the Auth API", async () => {
  await using cluster = await startCluster({ split: true, extraConfig: EXTRA_CONFIG });
  const port = String(cluster.postern.sshPort);
  const file = join(cluster.dir, "small.bin");
  const content = randomBytes(100_000);
  await Deno.writeFile(file, content);
  const remote = join(cluster.dir, "small-copy.bin");
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const run = await strictClient(cluster, await cluster.login(alice), "alice");
  const put = await run(
    "sftp",
    ["-b", "-", `sftp://root:saturn@127.0.0.1:${port}`],
    `put ${file} ${remote}\n`,
  );
  assert.equal(put.code, 0, put.stderr);
  assert.deepEqual(await Deno.readFile(remote), content);
  const written = await waitForAudit(cluster, "sftp.write", (e) => e.path === remote);
  assert.equal(written.bytes_written, content.length);

  const carol = await cluster.createUser("carol", { roles: ["no-files"], logins: ["root"] });
  const refused = await (await strictClient(cluster, await cluster.login(carol), "carol"))(
    "sftp",
    ["-b", "-", `sftp://root:saturn@127.0.0.1:${port}`],
    "ls /\n",
  );
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Your roles do not allow file transfer/);
});
