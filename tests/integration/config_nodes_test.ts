/**
 * Nodes and roles declared in the config: the auth server makes the stored
 * ones match them when it starts (added, and removed when they leave the
 * config), while admin commands, which may run with another config or none,
 * use what is stored and never re-add a node an admin removed.
 */

import assert from "node:assert/strict";
import { runPostern, startPosternProcess } from "../helpers/postern.ts";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

function nodesConfig(names: string[]): string {
  if (names.length === 0) return "";
  return [
    "nodes:",
    ...names.flatMap((name) => [
      `  - name: ${name}`,
      "    addr: 127.0.0.1:1",
      `    host_key: ${HOST_KEY}`,
    ]),
  ].join("\n");
}

Deno.test("config nodes are reconciled by the auth server, and nodes rm is not undone", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "postern-config-nodes-" });
  const names = async (configPath: string) => {
    const listed = await runPostern([
      "nodes",
      "ls",
      "--format",
      "json",
      "--data-dir",
      dataDir,
      "--config",
      configPath,
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    return JSON.parse(listed.stdout).map((n: { name: string }) => n.name).sort();
  };
  {
    await using first = await startPosternProcess({
      dataDir,
      extraConfig: nodesConfig(["venus", "mars"]),
    });
    assert.deepEqual(await names(first.configPath), ["mars", "venus"]);
    const removed = await runPostern([
      "nodes",
      "rm",
      "mars",
      "--data-dir",
      dataDir,
      "--config",
      first.configPath,
    ]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(await names(first.configPath), ["venus"], "the next command keeps it removed");
  }
  await using second = await startPosternProcess({ dataDir, extraConfig: nodesConfig(["mars"]) });
  assert.deepEqual(await names(second.configPath), ["mars"], "venus left the config");
});

Deno.test("config roles are stored by the auth server: admin commands without its config know them", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "postern-config-roles-" });
  const role = [
    "roles:",
    "  - name: dba",
    "    logins: [postgres]",
    "    node_labels: { env: db }",
  ].join("\n");
  const addUser = (name: string) =>
    // No --config: the command sees only what the store holds.
    runPostern(["users", "add", name, "--roles", "dba", "--data-dir", dataDir]);
  {
    await using _server = await startPosternProcess({ dataDir, extraConfig: role });
    const added = await addUser("dora");
    assert.equal(added.code, 0, added.stderr);
  }
  await using _again = await startPosternProcess({ dataDir });
  const refused = await addUser("dave");
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /dba/, "a role that left the config is gone");
});
