import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { defaultSshOptions, runSsh, sshKeygen } from "../helpers/sshd.ts";

Deno.test("the SSH gateway presents a host certificate that OpenSSH trusts through @cert-authority alone", async (t) => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const port = String(cluster.postern.sshPort);
  const strict = (knownHosts: string) =>
    defaultSshOptions
      .filter((o, i, all) =>
        !/^(StrictHostKeyChecking|UserKnownHostsFile)=/.test(o) &&
        !/^(StrictHostKeyChecking|UserKnownHostsFile)=/.test(all[i + 1] ?? "")
      )
      .concat([
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-i",
        id.keyPath,
        "-p",
        port,
      ]);

  await t.step("ssh-keyscan -c shows a host certificate for the proxy's names", async () => {
    const scan = await new Deno.Command("ssh-keyscan", {
      args: ["-c", "-p", port, "127.0.0.1"],
      stderr: "null",
    })
      .output();
    const line = new TextDecoder().decode(scan.stdout).split("\n").find((l) =>
      l.includes("-cert-v01@")
    );
    assert.ok(line, "a certificate is offered");
    const file = join(cluster.dir, "proxy-cert.pub");
    await Deno.writeTextFile(file, line + "\n");
    const shown = await sshKeygen(["-L", "-f", file]);
    assert.match(shown.stdout, /host certificate/);
    assert.match(shown.stdout, /Principals: [\s\S]*127\.0\.0\.1/);
  });

  await t.step(
    "the login response's host CA line is enough for strict host key checking",
    async () => {
      const knownHosts = join(cluster.dir, "known_hosts");
      await Deno.writeTextFile(knownHosts, id.hostCa.join("\n") + "\n");
      assert.match(id.hostCa[0], new RegExp(`\\[127\\.0\\.0\\.1\\]:${port}`));
      const result = await runSsh([
        ...strict(knownHosts),
        "root:saturn@127.0.0.1",
        "echo",
        "trusted",
      ]);
      assert.equal(result.stdout.trim(), "trusted", result.stderr);
    },
  );

  await t.step("another CA's line is refused", async () => {
    const other = await sshKeygen([
      "-t",
      "ed25519",
      "-N",
      "",
      "-q",
      "-f",
      join(cluster.dir, "other-ca"),
    ]);
    assert.equal(other.code, 0);
    const otherKey = (await Deno.readTextFile(join(cluster.dir, "other-ca.pub"))).split(" ").slice(
      0,
      2,
    ).join(" ");
    const knownHosts = join(cluster.dir, "known_hosts_other");
    await Deno.writeTextFile(knownHosts, `@cert-authority [127.0.0.1]:${port} ${otherKey}\n`);
    const result = await runSsh([...strict(knownHosts), "root:saturn@127.0.0.1", "true"]);
    assert.equal(result.code, 255);
    assert.match(result.stderr, /Host key verification failed/);
  });
});
