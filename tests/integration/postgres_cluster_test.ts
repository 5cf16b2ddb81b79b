/**
 * postern on PostgreSQL (storage.type: postgres) with real processes: one
 * process end to end, then the production layout of two auth servers on one
 * database behind haproxy with two proxies in front of them, where the
 * guarantees must hold whichever auth server a request reaches, and the
 * death of one must lose nothing that was acknowledged.
 */

import assert from "node:assert/strict";
import tls from "node:tls";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions, waitForAudit } from "../helpers/gateway.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { type PosternProcess, startPosternProcess } from "../helpers/postern.ts";
import { runSsh, sshTestOptions } from "../helpers/sshd.ts";

function storageConfig(url: string): string {
  return ["storage:", "  type: postgres", `  url: ${url}`].join("\n");
}

/** Calls a proxy's JSON API with a web session. */
async function callProxy(
  proxy: PosternProcess,
  client: Deno.HttpClient,
  method: string,
  path: string,
  body?: unknown,
  session?: { cookie: string; csrf: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${proxy.url}${path}`, {
    method,
    client,
    headers: {
      "content-type": "application/json",
      ...(session ? { cookie: session.cookie, "x-csrf-token": session.csrf } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: response.status, body: parsed };
}

/** The audit.jsonl lines one auth server wrote. */
async function auditLines(auth: PosternProcess): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(join(auth.dataDir, "audit.jsonl"));
  return text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
}

Deno.test("one process on PostgreSQL: login, recorded ssh, replay from the database", async () => {
  await using pg = await startPostgres();
  const url = await pg.createDatabase();
  await using cluster = await startCluster({ extraConfig: storageConfig(url) });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const identity = await cluster.login(alice);
  const result = await runSsh([
    ...sshTestOptions("ERROR"),
    ...identityOptions(identity),
    "-p",
    String(cluster.postern.sshPort),
    "root:saturn@127.0.0.1",
    "echo recorded-in-postgres",
  ]);
  assert.equal(result.stdout, "recorded-in-postgres\n", result.stderr);
  const end = await waitForAudit(cluster, "session.end", (e) => e.user === "alice");
  const web = await cluster.webLogin(alice);
  // Shipped from the proxy's spool into the database within a second or so.
  const deadline = Date.now() + 15_000;
  let replay = "";
  while (!replay.includes("recorded-in-postgres") && Date.now() < deadline) {
    const response = await fetch(
      `${cluster.postern.url}/v1/webapi/sites/postern/recordings/${end.session_id}/stream`,
      { client: cluster.http, headers: { cookie: web.cookie } },
    );
    replay = await response.text();
    if (!replay.includes("recorded-in-postgres")) await new Promise((r) => setTimeout(r, 300));
  }
  assert.match(replay, /recorded-in-postgres/);
  const files: string[] = [];
  for await (const entry of Deno.readDir(cluster.postern.dataDir)) files.push(entry.name);
  assert.ok(!files.includes("postern.db"), `no SQLite file beside PostgreSQL: ${files}`);

  // The database goes away: /readyz says so, logins get 503, nothing crashes; then it is back.
  await pg.kill();
  const ready = await cluster.api("GET", "/readyz");
  assert.equal(ready.status, 503);
  assert.match(JSON.stringify(ready.body), /Cannot reach the PostgreSQL database/);
  const refused = await cluster.api("POST", "/v1/webapi/sessions", {
    user: "alice",
    password: alice.password,
    second_factor_token: "000000",
  });
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  await pg.start();
  const back = await cluster.api("GET", "/readyz");
  assert.equal(back.status, 200, JSON.stringify(back.body));
  const me = await cluster.api("GET", "/v1/webapi/sessions/current", undefined, {
    cookie: web.cookie,
  });
  assert.equal(me.status, 200, "the web session outlived the outage");
});

Deno.test("two auth servers on one PostgreSQL behind haproxy act as one", async (t) => {
  await using pg = await startPostgres();
  const url = await pg.createDatabase();
  await using cluster = await startCluster({
    split: true,
    authServerCount: 2,
    authConfig: "  public_addrs: [auth-lb.example.com:3025]",
    // Per-address failure limits on the proxies would answer 429 before auth decides.
    extraConfig: ["  max_failures_per_address: 100000", storageConfig(url)].join("\n"),
  });
  const [authA, authB] = cluster.authServers;
  const [proxyA] = cluster.proxies;
  const clients = await Promise.all(cluster.proxies.map((p) => p.client()));
  const admin = await cluster.createUser("root-admin", { roles: ["admin"], logins: ["root"] });
  const session = await cluster.webLogin(admin);

  await t.step(
    "every auth server's certificate names the balancer (auth.public_addrs)",
    async () => {
      for (const auth of [authA, authB]) {
        const socket = tls.connect({
          host: "127.0.0.1",
          port: auth.authPort,
          servername: "auth-lb.example.com",
          rejectUnauthorized: false,
        });
        await new Promise((resolve, reject) =>
          socket.once("secureConnect", resolve).once("error", reject)
        );
        const names = socket.getPeerCertificate().subjectaltname;
        socket.destroy();
        assert.match(names ?? "", /DNS:auth-lb\.example\.com/);
      }
    },
  );

  await t.step(
    "50 wrong passwords at once over both: exactly max_login_attempts checked",
    async () => {
      const bob = await cluster.createUser("bob");
      const statuses = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) =>
            callProxy(cluster.proxies[i % 2], clients[i % 2], "POST", "/v1/webapi/sessions", {
              user: bob.name,
              password: `wrong-${i}`,
              second_factor_token: "000000",
            }).then((r) => r.status),
        ),
      );
      assert.ok(statuses.every((s) => s === 401), `all refused: ${statuses}`);
      const lines = [...await auditLines(authA), ...await auditLines(authB)];
      const checked = lines.filter((e) =>
        e.code === "user.login" && e.user === "bob" && e.reason === "bad password"
      );
      assert.equal(checked.length, 5, "auth.max_login_attempts (5) checked, not per server");
      for (const auth of [authA, authB]) {
        const handled = (await auditLines(auth)).filter((e) =>
          String(e.code).startsWith("user.login") && e.user === "bob"
        );
        assert.ok(handled.length > 0, "haproxy spread the attempts over both auth servers");
      }
      const right = await callProxy(proxyA, clients[0], "POST", "/v1/webapi/sessions", {
        user: bob.name,
        password: bob.password,
        second_factor_token: await cluster.otp(bob),
      });
      assert.equal(right.status, 401, "locked on every auth server, even with the right password");
    },
  );

  await t.step("an invite redeemed through both proxies at once succeeds once", async () => {
    const added = await cluster.admin("users", "add", "carol", "--roles", "access");
    const token = added.stdout.match(/\/web\/invite\/(\S+)/)![1];
    const enrollment = await callProxy(
      proxyA,
      clients[0],
      "POST",
      `/v1/webapi/invites/${token}/totp`,
    );
    assert.equal(enrollment.status, 200, JSON.stringify(enrollment.body));
    const carol = { name: "carol", password: "a long enough password", totpSecret: "" };
    carol.totpSecret = String(enrollment.body.secret);
    const code = await cluster.otp(carol);
    const results = await Promise.all(
      cluster.proxies.map((proxy, i) =>
        callProxy(proxy, clients[i], "POST", `/v1/webapi/invites/${token}`, {
          password: carol.password,
          second_factor_token: code,
        })
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status).sort(),
      [200, 404],
      JSON.stringify(results),
    );
  });

  await t.step("a change through one auth server is seen by both proxies at once", async () => {
    const added = await cluster.admin(
      "nodes",
      "add",
      "jupiter",
      `127.0.0.1:${cluster.sshd.port}`,
      "--labels",
      "env=x",
    );
    assert.equal(added.code, 0, added.stderr);
    for (const [i, proxy] of cluster.proxies.entries()) {
      const nodes = await callProxy(
        proxy,
        clients[i],
        "GET",
        "/v1/webapi/sites/postern/nodes",
        undefined,
        session,
      );
      assert.match(JSON.stringify(nodes.body), /jupiter/, `proxy ${i} lists the new node`);
    }
    const dave = await cluster.createUser("dave");
    const daveSession = await cluster.webLogin(dave);
    assert.equal((await cluster.admin("users", "rm", "dave")).code, 0);
    for (const [i, proxy] of cluster.proxies.entries()) {
      const me = await callProxy(
        proxy,
        clients[i],
        "GET",
        "/v1/webapi/sessions/current",
        undefined,
        daveSession,
      );
      assert.equal(me.status, 401, `proxy ${i} refuses the removed user's session`);
    }
  });

  await t.step("postern status --cluster lists both auth servers on PostgreSQL", async () => {
    const shown = await cluster.admin("status", "--cluster", "--format", "json");
    assert.equal(shown.code, 0, shown.stderr);
    const status = JSON.parse(shown.stdout);
    assert.equal(status.storage, "postgres");
    const ports = status.authServers.map((a: { id: string }) => Number(a.id.split(":").at(-1)));
    assert.deepEqual(ports.sort(), [authA.authPort, authB.authPort].sort());
  });

  await t.step(
    "kill -9 of one auth server under load: nothing acknowledged is lost, the other serves",
    async () => {
      const acknowledged: string[] = [];
      let failed = 0;
      let killed = false;
      const worker = async (w: number) => {
        for (let i = 0; i < 15; i++) {
          const name = `load-${w}-${i}`;
          const proxy = w % 2;
          const created = await callProxy(
            cluster.proxies[proxy],
            clients[proxy],
            "POST",
            "/v1/webapi/users",
            { name, roles: ["access"], logins: ["root"] },
            session,
          ).catch(() => ({ status: 0, body: {} }));
          if (created.status === 201) acknowledged.push(name);
          else failed++;
          if (w === 0 && i === 4 && !killed) {
            killed = true;
            authA.child.kill("SIGKILL");
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, (_, w) => worker(w)));
      assert.ok(killed);
      assert.ok(
        acknowledged.length >= 50,
        `most writes succeed (failed ${failed}): ${acknowledged.length}`,
      );
      const users = (await cluster.admin("users", "ls", "--format", "json")).stdout;
      const audit = (await cluster.admin("audit", "--json", "--type", "user.create")).stdout;
      for (const name of acknowledged) {
        assert.ok(users.includes(`"${name}"`), `acknowledged user ${name} exists`);
        assert.ok(audit.includes(`"${name}"`), `acknowledged user ${name} has its audit event`);
      }
      // After the kill, every call goes to auth B: the proxies keep serving.
      for (const [i, proxy] of cluster.proxies.entries()) {
        const list = await callProxy(
          proxy,
          clients[i],
          "GET",
          "/v1/webapi/users",
          undefined,
          session,
        );
        assert.equal(list.status, 200, `proxy ${i} serves through auth B`);
      }
      const bLines = await auditLines(authB);
      assert.ok(bLines.some((e) => e.code === "user.create"), "auth B took writes");
    },
  );

  await t.step("a role another auth server writes reaches the running one within 2 s", async () => {
    // A third auth server starts with a config that adds a role; auth B (the
    // one the proxies reach now) never restarts.
    await using authC = await startPosternProcess({
      dataDir: join(cluster.dir, "auth-c"),
      args: ["--roles", "auth"],
      extraConfig: [
        storageConfig(url),
        "roles:",
        "  - name: ops",
        "    logins: [ops]",
        "    node_labels: { '*': '*' }",
      ].join("\n"),
    });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const olga = await cluster.createUser("olga", { roles: ["ops"], logins: [] });
    const { body } = await cluster.webLogin(olga);
    assert.deepEqual(body.logins, ["ops"], "auth B resolved the new role");
    assert.equal(await authC.stop(), 0);
  });

  for (const client of clients) client.close();
});
