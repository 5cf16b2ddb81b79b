/**
 * The SSH gateway's tunnels and refusals, through the stock OpenSSH client:
 * ProxyCommand (`proxy:%h:%p` subsystem), ProxyJump (`direct-tcpip`) by node
 * name and by registered address, and every refusal a user can meet, each
 * asserting what ssh prints on stderr and its exit code.
 */

import assert from "node:assert/strict";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import { parseOpenSshPrivateKey } from "../../lib/sshcert/private_key.ts";
import { parsePublicKeyLine, signCertificate } from "../../lib/sshcert/mod.ts";
import { startCluster, type TestIdentity } from "../helpers/cluster.ts";
import {
  auditEvents,
  identityOptions,
  visibleSshOptions,
  writeSshConfig,
} from "../helpers/gateway.ts";
import { freePort } from "../helpers/ports.ts";
import { defaultSshOptions, newKeyPair, runSsh, signUserKey } from "../helpers/sshd.ts";

// Appended to the generated config's proxy: section, then a top-level roles: list.
const EXTRA_CONFIG = [
  "  dial_timeout: 2s",
  "roles:",
  "  - name: prod-only",
  "    logins: [root]",
  "    node_labels: { env: prod }",
].join("\n");

/** Lines of stderr without OpenSSH's own "Warning: Permanently added" notes. */
function messageLines(stderr: string): string[] {
  return stderr.split(/\r?\n/).filter((line) => line.trim() && !line.startsWith("Warning:"));
}

/** Signs a certificate with the cluster's user CA, read from its store like auth does. */
async function signWithUserCa(
  dataDir: string,
  pubLine: string,
  keyId: string,
  validity: { after: Date; before: Date },
): Promise<string> {
  const store = SqliteStore.open(dataDir);
  try {
    const ca = await store.cas.get("user");
    assert.ok(ca, "the cluster has a user CA");
    return signCertificate({
      caPrivateKey: parseOpenSshPrivateKey(ca.privateKey).privateKey,
      publicKey: parsePublicKeyLine(pubLine).key,
      type: "user",
      keyId,
      principals: ["root"],
      validAfter: validity.after,
      validBefore: validity.before,
    }).line;
  } finally {
    store.close();
  }
}

Deno.test("SSH gateway tunnels reach registered nodes and refuse everything else", async (t) => {
  await using cluster = await startCluster({ extraConfig: EXTRA_CONFIG });
  const port = String(cluster.postern.sshPort);
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const carol = await cluster.createUser("carol", { roles: ["prod-only"], logins: ["root"] });
  const id = await cluster.login(alice);
  const as = (who: TestIdentity) => [...defaultSshOptions, ...identityOptions(who)];
  const proxyCommand = (who: TestIdentity) =>
    `ProxyCommand=ssh ${as(who).join(" ")} -p ${port} %r@127.0.0.1 -s proxy:%h:%p`;
  /** `ssh -J root@proxy` with the ssh config file `config`, to `target` (and a command). */
  const jump = (config: string, ...target: string[]) =>
    runSsh(["-F", config, "-J", "root@proxy", ...target]);
  /** Saturn by its registered address (the sshd's port on 127.0.0.1) instead of its name. */
  const bySshdAddress = ["-p", String(cluster.sshd.port), "root@127.0.0.1"];
  /** `ssh … true` to the gateway itself offering `identity`, showing ssh's own messages. */
  const visibleSsh = (identity: string[], target = "root@127.0.0.1") =>
    runSsh([...visibleSshOptions, ...identity, "-p", port, target, "true"]);
  /** The options offering `key` with the certificate beside it. */
  const withCert = (key: { path: string }) =>
    identityOptions({ keyPath: key.path, certPath: `${key.path}-cert.pub` });
  /** `nodes add` pinning the cluster sshd's host key, whatever listens at `addr`. */
  const addNode = async (name: string, addr: string) => {
    const added = await cluster.admin(
      "nodes",
      "add",
      name,
      addr,
      "--host-key",
      cluster.sshd.hostKeyPub,
    );
    assert.equal(added.code, 0, added.stderr);
  };

  await t.step("ProxyCommand with the proxy subsystem runs a command on the node", async () => {
    const result = await runSsh([
      ...as(id),
      "-o",
      proxyCommand(id),
      "root@saturn",
      "echo via-proxy-command; exit 3",
    ]);
    assert.equal(result.stdout, "via-proxy-command\n", result.stderr);
    assert.equal(result.code, 3, "the node's exit status comes back through the tunnel");
  });

  await t.step("ProxyJump from an ssh config file reaches the node by name", async () => {
    const config = await writeSshConfig(cluster, id);
    const result = await jump(config, "root@saturn", "echo jumped");
    assert.equal(result.stdout, "jumped\n", result.stderr);
    assert.equal(result.code, 0);
  });

  await t.step("ProxyJump reaches the node by its registered address", async () => {
    const config = await writeSshConfig(cluster, id);
    const result = await jump(config, ...bySshdAddress, "echo by-address");
    assert.equal(result.stdout, "by-address\n", result.stderr);
    assert.equal(result.code, 0);
  });

  await t.step("a node on the same host's port 22 does not hide the registered one", async () => {
    await addNode("port22", "127.0.0.1:22");
    const config = await writeSshConfig(cluster, id);
    const result = await jump(config, ...bySshdAddress, "echo still-by-address");
    assert.equal(result.stdout, "still-by-address\n", result.stderr);
    assert.equal(result.code, 0);
  });

  await t.step("tunnels are audited with their byte counts", async () => {
    const ends = await auditEvents(cluster, "tunnel.end");
    for (const kind of ["subsystem", "direct-tcpip"]) {
      const end = ends.find((e) => e.kind === kind && e.user === "alice");
      assert.ok(end, `a tunnel.end event for ${kind} in ${JSON.stringify(ends)}`);
      assert.equal(end.node, "saturn");
      assert.ok(Number(end.bytes_up) > 1000 && Number(end.bytes_down) > 1000, JSON.stringify(end));
    }
    const starts = await auditEvents(cluster, "tunnel.start");
    assert.ok(starts.length >= 3, JSON.stringify(starts));
  });

  await t.step("a plain key without a certificate is refused with `postern login`", async () => {
    const plain = await newKeyPair(cluster.dir, "plain");
    const result = await visibleSsh(["-i", plain.path]);
    assert.equal(result.code, 255);
    assert.match(result.stderr, /postern: postern accepts only postern certificates/);
    assert.match(result.stderr, /run `postern login`/);
    assert.match(result.stderr, /Permission denied/);
  });

  await t.step(
    "a user without any key is told to run `postern login`, never prompted",
    async () => {
      // An askpass program stands in for the terminal: it records any prompt.
      const askpass = `${cluster.dir}/askpass.sh`;
      const asked = `${cluster.dir}/asked`;
      await Deno.writeTextFile(askpass, `#!/bin/sh\necho "$1" >> ${asked}\necho guess\n`);
      await Deno.chmod(askpass, 0o755);
      const result = await runSsh([
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `IdentityFile=${cluster.dir}/no-such-key`,
        "-p",
        port,
        "root@127.0.0.1",
        "true",
      ], { env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: ":0" } });
      assert.equal(result.code, 255);
      assert.match(result.stderr, /postern: postern accepts only postern certificates/);
      assert.match(result.stderr, /run `postern login`/);
      assert.match(result.stderr, /Permission denied \(publickey\)/);
      const prompts = await Deno.readTextFile(asked).catch(() => "");
      assert.equal(prompts, "", "ssh asked the user for something");
    },
  );

  await t.step("an expired certificate is refused with `postern login`", async () => {
    const key = await newKeyPair(cluster.dir, "expired");
    const now = Date.now();
    const cert = await signWithUserCa(cluster.postern.dataDir, key.pub, "alice", {
      after: new Date(now - 10 * 60_000),
      before: new Date(now - 2 * 60_000), // beyond the gateway's minute of clock skew
    });
    await Deno.writeTextFile(`${key.path}-cert.pub`, cert + "\n");
    const result = await visibleSsh(withCert(key));
    assert.equal(result.code, 255);
    assert.match(result.stderr, /postern: Cannot accept certificate "alice": it expired at /);
    assert.match(result.stderr, /run `postern login`/);
  });

  await t.step("a certificate from another CA is refused", async () => {
    const otherCa = await newKeyPair(cluster.dir, "other-ca");
    const key = await newKeyPair(cluster.dir, "stranger");
    await signUserKey({
      caPath: otherCa.path,
      pubPath: key.pubPath,
      principals: ["root"],
      identity: "alice",
    });
    const result = await visibleSsh(withCert(key));
    assert.equal(result.code, 255);
    assert.match(
      result.stderr,
      /postern: Cannot accept certificate "alice": its CA SHA256:\S+ is not trusted here/,
    );
    assert.match(result.stderr, /run `postern login`/);
  });

  await t.step("a login the certificate does not allow names the allowed ones", async () => {
    const result = await visibleSsh(identityOptions(id), "bob@127.0.0.1");
    assert.equal(result.code, 255);
    assert.match(result.stderr, /it does not allow "bob" \(allowed: root\)/);
    assert.match(result.stderr, /log in with one of the allowed logins/);
  });

  await t.step("an unregistered address is refused, never dialled", async () => {
    const foreign = await runSsh([
      ...as(id),
      "-p",
      port,
      "root@127.0.0.1",
      "-s",
      "proxy:10.1.2.3:22",
    ]);
    assert.deepEqual(messageLines(foreign.stderr), [
      'postern: Node "10.1.2.3" is not registered with this proxy; run `postern ls` to see the nodes you can reach.',
    ]);
    assert.equal(foreign.code, 1);

    // An open port on the node's own host, but not the registered one.
    const web = String(cluster.postern.webPort);
    const sideDoor = await runSsh([
      ...as(id),
      "-p",
      port,
      "root@127.0.0.1",
      "-s",
      `proxy:127.0.0.1:${web}`,
    ]);
    assert.equal(messageLines(sideDoor.stderr).length, 1, sideDoor.stderr);
    assert.equal(
      sideDoor.stderr,
      `postern: No node is registered at 127.0.0.1:${web}; the proxy only connects to registered nodes. ` +
        "Run `postern ls` to see the nodes you can reach.\r\n",
    );
    assert.equal(sideDoor.code, 1);
  });

  await t.step("ProxyCommand to an unregistered host shows the refusal", async () => {
    const result = await runSsh([...as(id), "-o", proxyCommand(id), "root@10.1.2.3", "true"]);
    assert.match(result.stderr, /postern: Node "10\.1\.2\.3" is not registered with this proxy/);
    assert.equal(result.code, 255);
    assert.doesNotMatch(result.stderr, /Internal error/);
  });

  await t.step(
    "direct-tcpip to an unregistered address fails to open with the reason",
    async () => {
      const result = await runSsh([
        ...visibleSshOptions,
        ...identityOptions(id),
        "-W",
        "10.9.9.9:22",
        "-p",
        port,
        "root@127.0.0.1",
      ]);
      assert.match(
        result.stderr,
        /channel 0: open failed: connect failed: Node "10\.9\.9\.9" is not registered with this proxy/,
      );
      assert.match(result.stderr, /stdio forwarding failed/);
      assert.equal(result.code, 255);
    },
  );

  await t.step("a node the user's roles do not allow is denied", async () => {
    const carolId = await cluster.login(carol);
    const sub = await runSsh([
      ...as(carolId),
      "-p",
      port,
      "root@127.0.0.1",
      "-s",
      "proxy:saturn:22",
    ]);
    assert.deepEqual(messageLines(sub.stderr), [
      'postern: User "carol" may not log in to node "saturn" as "root"; allowed logins there: none.',
    ]);
    assert.equal(sub.code, 1);

    const config = await writeSshConfig(cluster, carolId, "carol_config", "INFO");
    const jumped = await jump(config, "root@saturn", "true");
    assert.match(
      jumped.stderr,
      /open failed: connect failed: User "carol" may not log in to node "saturn" as "root"/,
    );
    assert.equal(jumped.code, 255);

    const terminated = await runSsh([...as(carolId), "-p", port, "root:saturn@127.0.0.1", "true"]);
    assert.match(terminated.stderr, /postern: User "carol" may not log in to node "saturn"/);
    assert.equal(terminated.code, 1);
  });

  await t.step("a node that is down gives one line naming it, at once", async () => {
    const closed = freePort();
    await addNode("down", `127.0.0.1:${closed}`);

    const started = Date.now();
    const sub = await runSsh([...as(id), "-p", port, "root@127.0.0.1", "-s", "proxy:down:22"]);
    assert.deepEqual(messageLines(sub.stderr), [
      `postern: Cannot reach node "down" (127.0.0.1:${closed}): connection refused (is sshd running?).`,
    ]);
    assert.equal(sub.code, 1);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);

    const viaProxyCommand = await runSsh([...as(id), "-o", proxyCommand(id), "root@down", "true"]);
    assert.match(viaProxyCommand.stderr, /postern: Cannot reach node "down" .*connection refused/);
    assert.equal(viaProxyCommand.code, 255);

    const terminated = await runSsh([...as(id), "-p", port, "root:down@127.0.0.1", "true"]);
    assert.deepEqual(messageLines(terminated.stderr), [
      `postern: Cannot connect to down (127.0.0.1:${closed}): connection refused`,
    ]);
    assert.equal(terminated.code, 1);
  });

  await t.step("a node that accepts but never answers times out after dial_timeout", async () => {
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn);
    })();
    try {
      const addr = `127.0.0.1:${silent.addr.port}`;
      await addNode("silent", addr);
      const started = Date.now();
      const result = await runSsh([...as(id), "-p", port, "root:silent@127.0.0.1", "true"]);
      const took = Date.now() - started;
      // The message names the configured dial_timeout, not what was left after dialling.
      const lines = messageLines(result.stderr);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0],
        new RegExp(
          `^postern: Cannot connect to silent \\(${addr}\\): timed out after 2000 ms during the SSH handshake$`,
        ),
      );
      assert.equal(result.code, 1);
      assert.ok(took >= 1900 && took < 6000, `took ${took} ms`);
    } finally {
      silent.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    }
  });

  await t.step("no refusal shows internal error text", () => {
    assert.doesNotMatch(cluster.postern.logs(), /internal error in SSH gateway/);
  });
});
