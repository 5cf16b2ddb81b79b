/**
 * The production layout end to end: auth and two proxies as separate
 * processes behind a real TCP load balancer (haproxy, round robin). The
 * proxies share the HTTPS certificate and present SSH host certificates for
 * the balancer's address, so a user who logged in once through the balancer
 * reaches the node with stock ssh and strict host key checking whichever
 * proxy each connection lands on.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { auditEvents } from "../helpers/gateway.ts";
import { startHaproxy } from "../helpers/haproxy.ts";
import { freePort } from "../helpers/ports.ts";
import { runPostern } from "../helpers/postern.ts";
import { runSsh } from "../helpers/sshd.ts";
import { generateSelfSigned } from "../../lib/tls/certificate.ts";

Deno.test("behind haproxy, logins and stock ssh work whichever proxy a connection lands on", async (t) => {
  const tlsDir = await Deno.makeTempDir({ prefix: "postern-lb-tls-" });
  const shared = await generateSelfSigned({ dns: ["localhost"], ips: ["127.0.0.1"] });
  await Deno.writeTextFile(join(tlsDir, "cert.pem"), shared.cert);
  await Deno.writeTextFile(join(tlsDir, "key.pem"), shared.key, { mode: 0o600 });
  const lb = { web: freePort(), ssh: freePort() };
  await using cluster = await startCluster({
    split: true,
    publicAddrs: { web: `127.0.0.1:${lb.web}`, ssh: `127.0.0.1:${lb.ssh}` },
    tls: { certFile: join(tlsDir, "cert.pem"), keyFile: join(tlsDir, "key.pem") },
  });
  await using _haproxy = await startHaproxy({
    web: { port: lb.web, backends: cluster.proxies.map((p) => p.webPort) },
    ssh: { port: lb.ssh, backends: cluster.proxies.map((p) => p.sshPort) },
  });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const home = join(cluster.dir, "alice-home");
  const env = { POSTERN_HOME: home, POSTERN_PASSWORD: alice.password };

  await t.step("postern login through the balancer", async () => {
    const login = await runPostern([
      "login",
      "--proxy",
      `127.0.0.1:${lb.web}`,
      "--user",
      "alice",
      "--otp",
      await cluster.otp(alice),
    ], { stdin: "y\n", env });
    assert.equal(login.code, 0, login.stderr);
    for (let i = 0; i < 4; i++) {
      const ls = await runPostern(["ls"], { env });
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /saturn/);
    }
  });

  await t.step("stock ssh with strict host key checking, four times", async () => {
    const keys = join(home, "keys", `127.0.0.1_${lb.web}`);
    for (let i = 0; i < 4; i++) {
      const result = await runSsh([
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${join(home, "known_hosts")}`,
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        join(keys, "alice"),
        "-p",
        String(lb.ssh),
        "root:saturn@127.0.0.1",
        `echo lb-${i}`,
      ]);
      assert.equal(result.stdout, `lb-${i}\n`, result.stderr);
    }
    const deadline = Date.now() + 10_000;
    let proxies = new Set<unknown>();
    while (proxies.size < 2 && Date.now() < deadline) {
      proxies = new Set((await auditEvents(cluster, "session.start")).map((e) => e.proxy));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(proxies.size, 2, "the balancer spread the sessions over both proxies");
  });
  await Deno.remove(tlsDir, { recursive: true });
});
