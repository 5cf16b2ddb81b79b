/**
 * A role definition that changes (the auth server restarted with a new
 * config) ends the live connections of the users it now allows less, saying
 * why; users it allows as much keep theirs. The proxies keep running
 * meanwhile (production layout).
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions, spawnSsh, waitForAudit } from "../helpers/gateway.ts";
import { startPosternProcess } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

function rolesConfig(opsLogins: string[]): string {
  return [
    "roles:",
    "  - name: ops",
    `    logins: [${opsLogins.join(", ")}]`,
    "    node_labels: { '*': '*' }",
  ].join("\n");
}

Deno.test("a role that now allows less ends its holders' live sessions", async () => {
  await using cluster = await startCluster({ split: true, extraConfig: rolesConfig(["root"]) });
  const carol = await cluster.createUser("carol", { roles: ["ops"], logins: [] });
  const dan = await cluster.createUser("dan", { roles: ["access"], logins: ["root"] });
  const session = async (user: typeof carol, command: string) => {
    const identity = await cluster.login(user);
    const ssh = spawnSsh([
      ...defaultSshOptions,
      ...identityOptions(identity),
      "-p",
      String(cluster.postern.sshPort),
      "root:saturn@127.0.0.1",
      command,
    ]);
    await ssh.stdout.waitFor(/started/);
    return ssh;
  };
  const carols = await session(carol, "echo started; sleep 60");
  const dans = await session(dan, "echo started; sleep 8; echo still-here");

  // The auth server restarts with ops no longer allowing root.
  const auth = cluster.authServer!;
  assert.equal(await auth.stop(), 0);
  await using _restarted = await startPosternProcess({
    dataDir: auth.dataDir,
    args: ["--roles", "auth"],
    ports: { web: auth.webPort, ssh: auth.sshPort, auth: auth.authPort },
    extraConfig: rolesConfig(["admin"]),
  });
  const code = await carols.exited(15_000);
  assert.notEqual(code, 0);
  assert.match(carols.stderr.text, /access changed by an administrator \(roles changed\)/);
  await waitForAudit(cluster, "connection.revoked", (e) => e.user === "carol");
  // dan's role did not change: his session runs to its end.
  assert.equal(await dans.exited(20_000), 0, dans.stderr.text);
  assert.match(dans.stdout.text, /still-here/);
});
