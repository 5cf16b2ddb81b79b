/**
 * `postern status --cluster` on the auth host: version, store, the CAs with
 * the fingerprints `ca export` gives, the proxy, and counts that include a
 * live session.
 */

import assert from "node:assert/strict";
import { fingerprint, parsePublicKeyLine } from "../../lib/sshcert/mod.ts";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions, spawnSsh } from "../helpers/gateway.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

Deno.test("postern status --cluster shows the CAs, the proxy and live counts", async () => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const session = spawnSsh([
    ...defaultSshOptions,
    ...identityOptions(id),
    "-p",
    String(cluster.postern.sshPort),
    "root:saturn@127.0.0.1",
    "cat",
  ]);
  await session.type("live\n");
  await session.stdout.waitFor(/live/);

  const shown = await cluster.admin("status", "--cluster");
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^Store: +sqlite, ok$/m);
  const authPort = cluster.postern.authPort;
  assert.match(
    shown.stdout,
    new RegExp(`^\\S+:${authPort} +127\\.0\\.0\\.1:${authPort} .* ago$`, "m"),
    "the running auth server reported itself",
  );
  assert.match(shown.stdout, /^Users: 2 {3}Nodes: 1 {3}Live sessions: 1$/m);
  assert.match(shown.stdout, /^local@\S+ .* \d+s ago$/m);
  const userCa = (await cluster.admin("ca", "export", "--type", "user")).stdout.trim();
  const userCaPrint = fingerprint(parsePublicKeyLine(userCa).key);
  assert.match(shown.stdout, new RegExp(`^user +${userCaPrint.replace(/[+/]/g, "\\$&")} `, "m"));

  const json = JSON.parse((await cluster.admin("status", "--cluster", "--format", "json")).stdout);
  assert.equal(json.notReadyReason, null);
  assert.equal(json.counts.liveSessions, 1);
  assert.equal(
    json.authorities.find((ca: { kind: string }) => ca.kind === "user").fingerprint,
    userCaPrint,
  );

  assert.equal(await session.finish(), 0, session.stderr.text);
});
