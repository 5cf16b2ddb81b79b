/**
 * The admin CLI (`postern users|nodes|ca ...`) run as an operator would, on the
 * data dir of a running `postern start`: what it prints, its exit codes, and
 * that the running server sees its changes at once. The CA and host
 * certificate outputs are checked by OpenSSH itself.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { freePort } from "../helpers/ports.ts";
import { runPostern } from "../helpers/postern.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import { runSsh, sshKeygen, startSshd } from "../helpers/sshd.ts";

/** `ssh-keygen -l` of a key line: its SHA256 fingerprint. */
async function keygenFingerprint(line: string): Promise<string> {
  return (await sshKeygen(["-l", "-f", "/dev/stdin"], { stdin: line + "\n" })).stdout.split(" ")[1];
}

/** The fields `ssh-keygen -L` prints for a certificate. */
async function describeCert(dir: string, line: string) {
  const path = join(dir, `${crypto.randomUUID()}-cert.pub`);
  await Deno.writeTextFile(path, line + "\n");
  const text = (await sshKeygen(["-L", "-f", path])).stdout;
  const principals = text.split("Principals:")[1].split(/\n\s*Critical/)[0].trim().split(/\s+/);
  return {
    text,
    principals,
    type: text.match(/Type: (\S+) (user|host) certificate/)?.[2],
    signingCa: text.match(/Signing CA: \S+ (SHA256:\S+)/)?.[1],
    publicKey: text.match(/Public key: \S+ (SHA256:\S+)/)?.[1],
  };
}

/** The first two fields of a key line (type and base64), without the comment. */
function keyOf(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(" ");
}

Deno.test("the admin CLI manages users, nodes and the CAs of a running server", async (t) => {
  await using cluster = await startCluster({
    extraConfig: "roles:\n  - name: dba\n    logins: [postgres]\n    node_labels: { team: db }\n",
  });
  const { admin, sshd } = cluster;
  let userCa = "";
  let hostCaKnownHosts = "";

  await t.step(
    "ca export prints the sshd user CA line and the known_hosts host CA line",
    async () => {
      const user = await admin("ca", "export", "--type", "user");
      assert.equal(user.code, 0, user.stderr);
      userCa = user.stdout.trim();
      assert.match(userCa, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+=* postern-user-ca$/);
      assert.match(await keygenFingerprint(userCa), /^SHA256:/);

      const host = await admin("ca", "export", "--type", "host");
      assert.equal(host.code, 0, host.stderr);
      hostCaKnownHosts = host.stdout.trim();
      const match = hostCaKnownHosts.match(
        /^@cert-authority (\S+) (ssh-ed25519 [A-Za-z0-9+/]+=*)$/,
      );
      assert.ok(match, hostCaKnownHosts);
      assert.ok(match[1].split(",").includes("*.postern"), `patterns: ${match[1]}`);
      const key = await admin("ca", "export", "--type", "host", "--format", "key");
      assert.equal(key.code, 0);
      assert.match(key.stdout.trim(), /^ssh-ed25519 \S+ postern-host-ca$/);
      assert.equal(keyOf(key.stdout), match[2]);
      assert.notEqual(keyOf(key.stdout), keyOf(userCa), "two different CAs");

      const badType = await admin("ca", "export", "--type", "root");
      assert.equal(badType.code, 2);
      assert.match(badType.stderr, /--type must be user, host or tls/);
      const badFormat = await admin("ca", "export", "--type", "host", "--format", "pem");
      assert.equal(badFormat.code, 2);
      assert.match(badFormat.stderr, /known_hosts or key/);
    },
  );

  await t.step("nodes add pins the node's host key and the server sees the node", async () => {
    const hostKeyFingerprint = await keygenFingerprint(sshd.hostKeyPub);
    const added = await admin(
      "nodes",
      "add",
      "jupiter",
      `127.0.0.1:${sshd.port}`,
      "--labels",
      "env=prod,team=db",
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Node "jupiter" added/);
    assert.ok(added.stdout.includes(`ssh-ed25519 ${hostKeyFingerprint}`), added.stdout);

    const listed = await admin("nodes", "ls", "--format", "json");
    assert.equal(listed.code, 0, listed.stderr);
    const nodes = JSON.parse(listed.stdout);
    assert.deepEqual(nodes.map((n: { name: string }) => n.name).sort(), ["jupiter", "saturn"]);
    const jupiter = nodes.find((n: { name: string }) => n.name === "jupiter");
    assert.equal(jupiter.addr, `127.0.0.1:${sshd.port}`);
    assert.deepEqual(jupiter.labels, { env: "prod", team: "db" });
    assert.equal(jupiter.source, "cli");
    assert.equal(keyOf(jupiter.host_key), keyOf(sshd.hostKeyPub), "the sshd's own host key");

    const table = await admin("nodes", "ls");
    assert.match(table.stdout, /^NAME\s+ADDRESS\s+LABELS\s+SOURCE$/m);
    assert.match(
      table.stdout,
      new RegExp(`^jupiter\\s+127\\.0\\.0\\.1:${sshd.port}\\s+env=prod,team=db\\s+cli$`, "m"),
    );

    const dba = await cluster.createUser("dora", { roles: ["dba"] });
    const session = await cluster.webLogin(dba);
    const seen = await cluster.api("GET", "/v1/webapi/sites/postern/nodes", undefined, {
      cookie: session.cookie,
    });
    assert.equal(seen.status, 200);
    assert.deepEqual(seen.body.items.map((n: { name: string }) => n.name), ["jupiter"]);
    assert.deepEqual(seen.body.items[0].logins, ["postgres"]);

    const again = await admin("nodes", "add", "jupiter", `127.0.0.1:${sshd.port}`);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /"jupiter" already exists/);
  });

  await t.step(
    "nodes add refuses a closed port and a malformed host key, adding nothing",
    async () => {
      const closed = freePort();
      const refused = await admin("nodes", "add", "pluto", `127.0.0.1:${closed}`);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        new RegExp(`Cannot read the host key of 127\\.0\\.0\\.1:${closed}: connection refused`),
      );
      assert.ok(!refused.stderr.includes("    at "), "no stack trace");

      const garbage = await admin("nodes", "add", "venus", "127.0.0.1:22", "--host-key", "garbage");
      assert.equal(garbage.code, 1);
      assert.match(garbage.stderr, /Host key for node "venus" is not an SSH public key line/);

      const badAddr = await admin("nodes", "add", "mars", "nowhere");
      assert.equal(badAddr.code, 1);
      assert.match(badAddr.stderr, /"nowhere" is not host:port/);

      // A given key is pinned without contacting the node (here: nothing listens).
      const given = await admin(
        "nodes",
        "add",
        "ceres",
        `127.0.0.1:${closed}`,
        "--host-key",
        sshd.hostKeyPub,
      );
      assert.equal(given.code, 0, given.stderr);
      const names = JSON.parse((await admin("nodes", "ls", "--format", "json")).stdout)
        .map((n: { name: string }) => n.name).sort();
      assert.deepEqual(names, ["ceres", "jupiter", "saturn"]);
    },
  );

  await t.step("nodes rm removes a node; removing it again fails", async () => {
    const removed = await admin("nodes", "rm", "ceres");
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /Node "ceres" removed/);
    const names = JSON.parse((await admin("nodes", "ls", "--format", "json")).stdout)
      .map((n: { name: string }) => n.name).sort();
    assert.deepEqual(names, ["jupiter", "saturn"]);
    const again = await admin("nodes", "rm", "ceres");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /No node "ceres"/);
  });

  await t.step(
    "nodes host-cert signs a host certificate OpenSSH verifies with the host CA",
    async () => {
      const cert = await admin(
        "nodes",
        "host-cert",
        "--name",
        "saturn",
        "--pub",
        `${sshd.hostKeyPath}.pub`,
      );
      assert.equal(cert.code, 0, cert.stderr);
      const line = cert.stdout.trim();
      assert.match(line, /^ssh-ed25519-cert-v01@openssh\.com \S+/);
      const shown = await describeCert(cluster.dir, line);
      assert.equal(shown.type, "host", shown.text);
      assert.deepEqual(shown.principals, ["saturn", "saturn.postern", "127.0.0.1"]);
      assert.equal(shown.publicKey, await keygenFingerprint(sshd.hostKeyPub));
      const hostCaKey = hostCaKnownHosts.split(" ").slice(2).join(" ");
      assert.equal(shown.signingCa, await keygenFingerprint(hostCaKey));

      // An sshd presenting that certificate is trusted through the exported known_hosts line.
      await using node = await startSshd({
        hostKey: await Deno.readTextFile(sshd.hostKeyPath),
        hostCertificate: line,
        trustedUserCAKeys: userCa,
      });
      const knownHosts = join(cluster.dir, "known_hosts");
      await Deno.writeTextFile(knownHosts, hostCaKnownHosts + "\n");
      const alice = await cluster.createUser("alice", { logins: ["root"] });
      const id = await cluster.login(alice);
      const connect = (alias: string) =>
        runSsh([
          "-F",
          "/dev/null",
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          "ConnectTimeout=5",
          "-o",
          `UserKnownHostsFile=${knownHosts}`,
          "-o",
          `HostKeyAlias=${alias}`,
          "-i",
          id.keyPath,
          "-p",
          String(node.port),
          "root@127.0.0.1",
          "echo host-ca-ok",
        ]);
      const trusted = await connect("saturn.postern");
      assert.equal(trusted.stdout.trim(), "host-ca-ok", trusted.stderr);
      const wrongName = await connect("pluto.postern");
      assert.equal(wrongName.code, 255);
      assert.match(wrongName.stderr, /Host key verification failed/);

      const unknown = await admin(
        "nodes",
        "host-cert",
        "--name",
        "nope",
        "--pub",
        `${sshd.hostKeyPath}.pub`,
      );
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /No node "nope"/);
      const missing = await admin("nodes", "host-cert", "--name", "saturn");
      assert.equal(missing.code, 2);
    },
  );

  await t.step(
    "nodes setup-script prints a valid sh script with the CA and host certificate",
    async () => {
      const result = await admin("nodes", "setup-script", "saturn");
      assert.equal(result.code, 0, result.stderr);
      const script = result.stdout;
      assert.ok(script.startsWith("#!/bin/sh\n"));
      const check = await new Deno.Command("sh", { args: ["-n"], stdin: "piped", stderr: "piped" })
        .spawn();
      const writer = check.stdin.getWriter();
      await writer.write(new TextEncoder().encode(script));
      await writer.close();
      const status = await check.output();
      assert.equal(status.code, 0, new TextDecoder().decode(status.stderr));
      assert.match(script, /TrustedUserCAKeys \$CA_FILE/);
      assert.ok(script.split("\n").includes(userCa), "the user CA line, verbatim");
      assert.match(script, /HostCertificate \$CERT_FILE/);
      const certLine = script.split("\n").find((l) =>
        l.startsWith("ssh-ed25519-cert-v01@openssh.com")
      );
      assert.ok(certLine, "a host certificate is embedded");
      const shown = await describeCert(cluster.dir, certLine);
      assert.equal(shown.type, "host");
      assert.equal(shown.publicKey, await keygenFingerprint(sshd.hostKeyPub));
      assert.match(script, /sshd -t/);

      const unknown = await admin("nodes", "setup-script", "nope");
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /No node "nope"/);
    },
  );

  await t.step(
    "users add without the server's config links to the address the running proxy registered",
    async () => {
      const added = await runPostern([
        "users",
        "add",
        "yan",
        "--roles",
        "access",
        "--data-dir",
        cluster.postern.dataDir,
      ]);
      assert.equal(added.code, 0, added.stderr);
      assert.equal(added.stderr, "", "no warning: the address is known");
      assert.match(
        added.stdout,
        new RegExp(`^https://127\\.0\\.0\\.1:${cluster.postern.webPort}/web/invite/`, "m"),
      );
    },
  );

  await t.step("users add prints an invite; unknown roles and bad names are refused", async () => {
    const nope = await admin("users", "add", "zed", "--roles", "nope", "--logins", "zed");
    assert.equal(nope.code, 1);
    assert.match(nope.stderr, /Unknown role "nope"/);
    for (const role of ["admin", "access", "auditor", "dba"]) {
      assert.ok(nope.stderr.includes(`"${role}"`), `names the known role ${role}: ${nope.stderr}`);
    }

    const before = Date.now();
    const added = await admin("users", "add", "zed", "--roles", "access,dba", "--logins", "zed");
    assert.equal(added.code, 0, added.stderr);
    const url = added.stdout.match(/https:\/\/\S+/)?.[0];
    assert.ok(url, added.stdout);
    assert.match(
      url,
      new RegExp(
        `^https://127\\.0\\.0\\.1:${cluster.postern.webPort}/web/invite/[A-Za-z0-9_-]{43}$`,
      ),
    );
    const until = Date.parse(added.stdout.match(/valid until (\S+)\)/)![1]);
    assert.ok(Math.abs(until - (before + 3_600_000)) < 10_000, "valid 1 h by default");
    const token = url.split("/").pop()!;
    const invite = await cluster.api("GET", `/v1/webapi/invites/${token}`);
    assert.equal(invite.status, 200, "the running server knows the invite");
    assert.equal(invite.body.user, "zed");

    const duplicate = await admin("users", "add", "zed", "--roles", "access");
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /"zed"/);
    const badName = await admin("users", "add", "Not Valid", "--roles", "access");
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /User name "Not Valid"/);
    const noRoles = await admin("users", "add", "yves");
    assert.equal(noRoles.code, 1);
    assert.match(noRoles.stderr, /--roles/);
    const badTtl = await admin("users", "add", "yves", "--roles", "access", "--ttl", "soon");
    assert.equal(badTtl.code, 2);
    assert.match(badTtl.stderr, /--ttl "soon"/);

    const users = JSON.parse((await admin("users", "ls", "--format", "json")).stdout);
    const zed = users.find((u: { name: string }) => u.name === "zed");
    assert.deepEqual(
      { roles: zed.roles, logins: zed.logins, status: zed.status },
      { roles: ["access", "dba"], logins: ["zed"], status: "invited" },
    );
    assert.ok(!users.some((u: { name: string }) => u.name === "yves"));
    const table = (await admin("users", "ls")).stdout;
    assert.match(table, /^NAME\s+ROLES\s+LOGINS\s+STATUS$/m);
    assert.match(table, /^zed\s+access,dba\s+zed\s+invited$/m);
    assert.match(table, /^alice\s+access\s+root\s+active$/m);
  });

  await t.step(
    "users reset revokes credentials and users rm ends the user's sessions",
    async () => {
      const yara = await cluster.createUser("yara");
      const session = await cluster.webLogin(yara);
      const current = () =>
        cluster.api("GET", "/v1/webapi/sessions/current", undefined, { cookie: session.cookie });
      assert.equal((await current()).status, 200);

      const reset = await admin("users", "reset", "yara");
      assert.equal(reset.code, 0, reset.stderr);
      assert.match(reset.stdout, /Credentials of "yara" revoked/);
      const token = reset.stdout.match(/\/web\/invite\/(\S+)/)?.[1];
      assert.ok(token);
      assert.equal((await cluster.api("GET", `/v1/webapi/invites/${token}`)).body.kind, "reset");
      assert.equal((await current()).status, 401);
      const listed = JSON.parse((await admin("users", "ls", "--format", "json")).stdout);
      assert.equal(listed.find((u: { name: string }) => u.name === "yara").status, "invited");

      const again = await cluster.createUser("yuri");
      const second = await cluster.webLogin(again);
      const removed = await admin("users", "rm", "yuri");
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /User "yuri" removed/);
      const after = await cluster.api("GET", "/v1/webapi/sessions/current", undefined, {
        cookie: second.cookie,
      });
      assert.equal(after.status, 401);
      const login = await cluster.api("POST", "/v1/webapi/sessions", {
        user: "yuri",
        password: again.password,
        second_factor_token: await cluster.otp(again),
      });
      assert.equal(login.status, 401);
      const names = JSON.parse((await admin("users", "ls", "--format", "json")).stdout)
        .map((u: { name: string }) => u.name);
      assert.ok(!names.includes("yuri"));
      const rmAgain = await admin("users", "rm", "yuri");
      assert.equal(rmAgain.code, 1);
      assert.match(rmAgain.stderr, /No user "yuri"/);
      const resetUnknown = await admin("users", "reset", "yuri");
      assert.equal(resetUnknown.code, 1);
      assert.match(resetUnknown.stderr, /No user "yuri"/);
    },
  );
});

Deno.test("postern audit shows the newest events of a long log, oldest first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-audit-" });
  const store = SqliteStore.open(dir);
  const now = Date.now();
  await store.transaction(async (tx) => {
    await tx.audit.append({
      time: now - 2 * 3_600_000,
      code: "user.login",
      user: "old",
      remoteAddr: null,
      success: true,
      fields: {},
    });
    for (let i = 0; i < 10_050; i++) {
      await tx.audit.append({
        time: now - 60_000 + i,
        code: "ssh.auth",
        user: "bulk",
        remoteAddr: "127.0.0.1",
        success: true,
        fields: { n: i },
      });
    }
  });
  store.close();
  try {
    const all = await runPostern(["audit", "--json", "--type", "ssh.auth", "--data-dir", dir]);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(lines.length, 10_000);
    assert.equal(lines.at(-1).n, 10_049, "the newest event is shown");
    assert.equal(lines[0].n, 50);

    const recent = await runPostern(["audit", "--since", "1h", "--user", "old", "--data-dir", dir]);
    assert.equal(recent.code, 0, recent.stderr);
    assert.equal(recent.stdout.trim(), "");
    const older = await runPostern(["audit", "--since", "3h", "--user", "old", "--data-dir", dir]);
    assert.match(older.stdout, /^\S+Z ok {3}user\.login user=old addr=- $/m);
    const bad = await runPostern(["audit", "--since", "yesterday", "--data-dir", dir]);
    assert.equal(bad.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nodes add --require-host-cert pins the key certified by the host CA, and refuses a node without one", async () => {
  await using cluster = await startCluster();
  const base = ["--config", cluster.postern.configPath, "--data-dir", cluster.postern.dataDir];
  const refused = await runPostern([
    "nodes",
    "add",
    "plain",
    `127.0.0.1:${cluster.sshd.port}`,
    "--require-host-cert",
    ...base,
  ]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /presents no host certificate signed by the postern host CA.*setup-script plain/,
  );
  const hostCertDir = await Deno.makeTempDir();
  const pubFile = join(hostCertDir, "host.pub");
  const certified = await startSshd({
    trustedUserCAKeys: (await cluster.admin("ca", "export", "--type", "user")).stdout.trim(),
    hostCertificate: async (hostKeyPub) => {
      await Deno.writeTextFile(pubFile, hostKeyPub);
      const signed = await runPostern([
        "nodes",
        "host-cert",
        "--name",
        "saturn",
        "--pub",
        pubFile,
        ...base,
      ]);
      return signed.stdout.trim();
    },
  });
  try {
    await cluster.admin("nodes", "rm", "saturn");
    const added = await runPostern([
      "nodes",
      "add",
      "saturn",
      `127.0.0.1:${certified.port}`,
      "--require-host-cert",
      ...base,
    ]);
    assert.equal(added.code, 0, added.stderr);
    const listed = JSON.parse((await cluster.admin("nodes", "ls", "--format", "json")).stdout);
    const saturn = listed.find((n: { name: string }) => n.name === "saturn");
    assert.equal(
      saturn.host_key.split(" ").slice(0, 2).join(" "),
      certified.hostKeyPub.split(" ").slice(0, 2).join(" "),
    );
    assert.equal(saturn.require_host_cert, true);
  } finally {
    await certified.stop();
  }
});
