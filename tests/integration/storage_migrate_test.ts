/**
 * `postern storage migrate`: a single-process SQLite installation moves to
 * PostgreSQL and keeps its users, nodes, sessions, recordings and audit log.
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions, waitForAudit } from "../helpers/gateway.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { runPostern, startPosternProcess } from "../helpers/postern.ts";
import { runSsh, sshTestOptions } from "../helpers/sshd.ts";

Deno.test("storage migrate moves a SQLite installation into PostgreSQL", async () => {
  await using pg = await startPostgres();
  const url = await pg.createDatabase();
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const identity = await cluster.login(alice);
  const ssh = await runSsh([
    ...sshTestOptions("ERROR"),
    ...identityOptions(identity),
    "-p",
    String(cluster.postern.sshPort),
    "root:saturn@127.0.0.1",
    "echo before-the-move",
  ]);
  assert.equal(ssh.stdout, "before-the-move\n", ssh.stderr);
  const end = await waitForAudit(cluster, "session.end", (e) => e.user === "alice");
  const web = await cluster.webLogin(alice);
  await cluster.postern.stop();

  const storage = ["storage:", "  type: postgres", `  url: ${url}`].join("\n");
  const dataDir = cluster.postern.dataDir;
  const migrated = await runPostern([
    "storage",
    "migrate",
    "--from",
    `sqlite:${dataDir}`,
    "--to",
    url,
    "--data-dir",
    dataDir,
  ]);
  assert.equal(migrated.code, 0, migrated.stderr);
  assert.match(migrated.stdout, /users: 2/);
  assert.match(migrated.stdout, /recordings: 1/);
  const again = await runPostern(["storage", "migrate", "--to", url, "--data-dir", dataDir]);
  assert.equal(again.code, 1, "a second copy into the same database is refused");
  assert.match(again.stderr, /already has users: migrate into an empty database/);

  await using moved = await startPosternProcess({ dataDir, extraConfig: storage });
  const admin = (...args: string[]) =>
    runPostern([...args, "--config", moved.configPath, "--data-dir", dataDir]);
  const users = await admin("users", "ls");
  assert.match(users.stdout, /alice\s.*active/);
  assert.match((await admin("nodes", "ls")).stdout, /saturn/);
  const audit = await admin("audit", "--type", "session.end", "--json");
  assert.match(audit.stdout, new RegExp(String(end.session_id)));
  const client = await moved.client();
  try {
    // alice's browser session came along: she replays her session on PostgreSQL.
    const response = await fetch(
      `${moved.url}/v1/webapi/sites/postern/recordings/${end.session_id}/stream`,
      { client, headers: { cookie: web.cookie } },
    );
    assert.match(await response.text(), /before-the-move/);
  } finally {
    client.close();
  }
});
