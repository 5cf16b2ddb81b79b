/**
 * The production layout as separate processes with separate data dirs: one
 * `postern start --roles auth` and two `--roles proxy` joined with tokens, a
 * real sshd node, and the user journeys through proxy B: invite sign-up, CLI
 * login, stock `ssh -J` and ProxyCommand, `ssh root:saturn@proxyB`, a web
 * terminal, replay of a recording from the other proxy. Then auth stops (open
 * tunnels keep moving data, new logins get a clear "unreachable", /readyz
 * 503) and restarts (logins work again without restarting the proxies).
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { eventually, launchBrowser } from "../helpers/browser.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import { ClusterTlsCa, generateTlsKeyPair } from "../../lib/tls/cluster_ca.ts";
import { generateSelfSigned } from "../../lib/tls/certificate.ts";
import { proxyArgs, proxyJoinToken, startCluster } from "../helpers/cluster.ts";
import { readIdentity } from "../../lib/auth/api/identity.ts";
import { identityOptions, spawnSsh, waitForAudit, writeSshConfig } from "../helpers/gateway.ts";
import type { TestIdentity } from "../helpers/cluster.ts";
import { runPostern, startPosternProcess } from "../helpers/postern.ts";
import { freePort } from "../helpers/ports.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

Deno.test("auth and two proxies as separate processes serve every journey through proxy B", async (t) => {
  await using cluster = await startCluster({ split: true });
  const [proxyA, proxyB] = cluster.proxies;
  const authServer = cluster.authServer!;
  // One user per step that types a code: each TOTP code is accepted once.
  const [alice, bob, carol, dave, erin] = await Promise.all(
    ["alice", "bob", "carol", "dave", "erin"].map((name) =>
      // bob replays others' recordings: admin.
      cluster.createUser(name, { logins: ["root"], roles: [name === "bob" ? "admin" : "access"] })
    ),
  );
  const identity = await cluster.login(alice);
  const config = await writeSshConfig(cluster, identity);

  await t.step("the proxies hold no store: only identity, keys and recordings", async () => {
    for (const proxy of cluster.proxies) {
      const names = [];
      for await (const entry of Deno.readDir(proxy.dataDir)) names.push(entry.name);
      assert.ok(!names.some((name) => name.startsWith("postern.db")), names.join(","));
      assert.ok(!names.includes("audit.jsonl"), names.join(","));
      const mode = (await Deno.stat(join(proxy.dataDir, "identity", "identity.pem"))).mode!;
      assert.equal(mode & 0o777, 0o600);
    }
    const listed = await cluster.admin("proxies", "ls", "--format", "json");
    assert.equal(JSON.parse(listed.stdout).length, 2);
  });

  await t.step("stock ssh -J and ProxyCommand through proxy B reach saturn", async () => {
    const jump = await runSsh(["-F", config, "-J", "root@proxy", "root@saturn", "echo via-jump"]);
    assert.equal(jump.stdout, "via-jump\n", jump.stderr);
    const command = await runSsh([
      "-F",
      config,
      "-o",
      `ProxyCommand=ssh -F ${config} -p ${proxyB.sshPort} %r@127.0.0.1 -s proxy:%h:%p`,
      "root@saturn",
      "echo via-subsystem",
    ]);
    assert.equal(command.stdout, "via-subsystem\n", command.stderr);
  });

  let recordedId = "";
  await t.step("ssh root:saturn@proxyB runs a recorded session that proxy A replays", async () => {
    const result = await runSsh([
      ...defaultSshOptions,
      ...identityOptions(identity),
      "-p",
      String(proxyB.sshPort),
      "root:saturn@127.0.0.1",
      "echo recorded-on-b",
    ]);
    assert.equal(result.stdout, "recorded-on-b\n", result.stderr);
    const end = await waitForAudit(cluster, "session.end", (e) => e.user === "alice");
    recordedId = String(end.session_id);
    assert.equal(end.proxy !== undefined, true, "auth stamps the proxy on events it reports");
    const web = await cluster.webLogin(bob);
    const clientA = await proxyA.client();
    try {
      const deadline = Date.now() + 10_000;
      let body = "";
      for (;;) {
        const response = await fetch(
          `${proxyA.url}/v1/webapi/sites/postern/recordings/${recordedId}/stream`,
          { client: clientA, headers: { cookie: web.cookie } },
        );
        body = await response.text();
        if (response.status === 200 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.match(body, /recorded-on-b/);
      // Shipped by proxy B, indexed by auth, found through proxy A (over the Auth API).
      let found: { recording: { id: string }; context: string[]; line: number }[] = [];
      for (const deadline = Date.now() + 10_000; found.length === 0 && Date.now() < deadline;) {
        const response = await fetch(
          `${proxyA.url}/v1/webapi/sites/postern/recordings/search?q=recorded+on+b`,
          { client: clientA, headers: { cookie: web.cookie } },
        );
        found = (await response.json()).items ?? [];
        if (found.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(found[0]?.recording.id, recordedId);
      assert.equal(found[0].context[found[0].line], "recorded-on-b");
    } finally {
      clientA.close();
    }
  });

  await t.step("postern login through proxy B writes keys that stock ssh uses", async () => {
    const home = await Deno.makeTempDir({ dir: cluster.dir });
    const login = await cluster.cliLogin(carol, home);
    assert.equal(login.code, 0, login.stderr);
    const ls = await runPostern(["ls"], { env: { POSTERN_HOME: home } });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /saturn/);
    // One @cert-authority line covers every proxy: none is pinned by its plain key.
    const knownHosts = join(home, "known_hosts");
    const lines = (await Deno.readTextFile(knownHosts)).split("\n").filter(Boolean);
    assert.ok(lines.every((line) => line.startsWith("@cert-authority") || /saturn/.test(line)));
    const keys = join(home, "keys", `127.0.0.1_${proxyB.webPort}`);
    for (const proxy of cluster.proxies) {
      const result = await runSsh([
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        join(keys, "carol"),
        "-p",
        String(proxy.sshPort),
        "root:saturn@127.0.0.1",
        "echo host-ca-ok",
      ]);
      assert.equal(result.stdout, "host-ca-ok\n", result.stderr);
    }
  });

  await t.step("admin commands work remotely with an admin identity", async () => {
    const made = await cluster.admin("tokens", "add", "--type", "admin");
    const command = made.stdout.match(/postern (identity .*)$/m)?.[1];
    assert.ok(command, made.stdout);
    const file = join(cluster.dir, "admin.identity");
    const args = command.split(" ").map((arg) => arg === "admin.identity" ? file : arg)
      .map((arg) => arg.replace(/^[^:]+:(\d+)$/, `127.0.0.1:${authServer.authPort}`));
    const joined = await runPostern(args);
    assert.equal(joined.code, 0, joined.stderr);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const users = await runPostern([
      "users",
      "ls",
      "--auth-server",
      `127.0.0.1:${authServer.authPort}`,
      "--identity",
      file,
    ]);
    assert.equal(users.code, 0, users.stderr);
    assert.match(users.stdout, /alice/);
    const status = await runPostern([
      "status",
      "--cluster",
      "--format",
      "json",
      "--auth-server",
      `127.0.0.1:${authServer.authPort}`,
      "--identity",
      file,
    ]);
    assert.equal(status.code, 0, status.stderr);
    const seen = JSON.parse(status.stdout);
    assert.equal(seen.proxies.length, 2, status.stdout);
    assert.deepEqual(seen.authorities.map((ca: { kind: string }) => ca.kind), [
      "user",
      "host",
      "tls",
    ]);
    const denied = await runPostern([
      "users",
      "ls",
      "--auth-server",
      `127.0.0.1:${authServer.authPort}`,
      "--identity",
      join(proxyA.dataDir, "identity", "identity.pem"),
    ]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /only for a user who may/);
    // And an admin identity is not a proxy: it cannot act for users.
    const admin = (await readIdentity(file))!;
    const asAdmin = Deno.createHttpClient({
      caCerts: [admin.ca],
      cert: admin.cert,
      key: admin.key,
    });
    try {
      const response = await fetch(
        `https://127.0.0.1:${authServer.authPort}/v1/call/identityOf`,
        {
          method: "POST",
          client: asAdmin,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ args: [{ kind: "certificate", certificate: "AAAA" }] }),
        },
      );
      assert.equal(response.status, 403);
      assert.match((await response.json()).error.message, /admin identity cannot call/);
    } finally {
      asAdmin.close();
    }
  });

  await t.step("a web terminal on proxy B (Chromium) runs a command as root", async () => {
    await webTerminal(proxyB.url, dave, await cluster.otp(dave), "echo web-$((40+2))", "web-42");
  });

  await t.step("with auth stopped, an open tunnel keeps moving data", async () => {
    const session = spawnSsh(["-F", config, "-J", "root@proxy", "root@saturn", "cat"]);
    await session.type("before\n");
    await session.stdout.waitFor(/before/);
    assert.equal(await authServer.stop(), 0);
    await session.type("during\n");
    await session.stdout.waitFor(/during/);

    const login = await cluster.api("POST", "/v1/webapi/sessions", {
      user: "erin",
      password: erin.password,
      second_factor_token: await cluster.otp(erin),
    });
    assert.equal(login.status, 503);
    assert.match(login.body.error.message, /auth service is unreachable/);
    const ready = await cluster.api("GET", "/readyz");
    assert.equal(ready.status, 503);
    assert.equal(await session.finish(), 0);
  });

  await t.step("auth restarted: logins work again without restarting the proxies", async () => {
    await using restarted = await startPosternProcess({
      dataDir: authServer.dataDir,
      args: ["--roles", "auth"],
      ports: { web: authServer.webPort, ssh: authServer.sshPort, auth: authServer.authPort },
    });
    assert.ok(restarted.authPort === authServer.authPort);
    const ready = await waitFor(async () => (await cluster.api("GET", "/readyz")).status === 200);
    assert.ok(ready, "proxy B is ready again");
    const again = await cluster.login(erin);
    const result = await runSsh([
      ...defaultSshOptions,
      ...identityOptions(again),
      "-p",
      String(proxyB.sshPort),
      "root:saturn@127.0.0.1",
      "echo back",
    ]);
    assert.equal(result.stdout, "back\n", result.stderr);
  });
});

Deno.test("the Auth API refuses callers without the right identity and proof", async (t) => {
  await using cluster = await startCluster({ split: true });
  const [proxyA] = cluster.proxies;
  const authUrl = `https://127.0.0.1:${cluster.authServer!.authPort}/v1`;
  const { cert, ca, key } = (await readIdentity(
    join(proxyA.dataDir, "identity", "identity.pem"),
  ))!;
  const asProxy = Deno.createHttpClient({ caCerts: [ca], cert, key });
  const anonymous = Deno.createHttpClient({ caCerts: [ca] });
  const call = async (client: Deno.HttpClient, method: string, body: unknown) => {
    const response = await fetch(`${authUrl}/call/${method}`, {
      method: "POST",
      client,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const aliceId = await cluster.login(alice);
  const certB64 = aliceId.cert.split(" ")[1];
  const pub = (await Deno.readTextFile(`${aliceId.keyPath}.pub`)).trim();
  const later = { $date: new Date(Date.now() + 60_000).toISOString() };

  try {
    await t.step("a caller without a certificate is refused", async () => {
      const result = await call(anonymous, "clusterInfo", {});
      assert.equal(result.status, 401);
      assert.equal(result.body.error.kind, "unauthenticated");
    });

    await t.step("a proxy identity alone cannot get credentials for a user", async () => {
      const noProof = await call(asProxy, "signNodeLogin", {
        args: [null, "root", pub, later],
      });
      assert.equal(noProof.status, 401);
      const forged = await call(asProxy, "signNodeLogin", {
        args: [{ kind: "certificate", certificate: "AAAA" }, "root", pub, later],
      });
      assert.equal(forged.status, 401);
      const webForged = await call(asProxy, "webSessionAgent", {
        args: ["not-a-session", { $bytes: "Cw==" }],
      });
      assert.equal(webForged.status, 401);
      const admin = await call(asProxy, "addUser", {
        args: [{ name: "mallory", roles: ["admin"], logins: ["root"] }],
      });
      assert.equal(admin.status, 403);
      const asAlice = await call(asProxy, "addUser", {
        args: [{ name: "mallory", roles: ["admin"], logins: ["root"] }],
        as: { kind: "certificate", certificate: certB64 },
      });
      assert.equal(asAlice.status, 403, "alice's proof does not carry the users permission");
    });

    await t.step("with the user's certificate, only the user's own logins are signed", async () => {
      const proof = { kind: "certificate", certificate: certB64 };
      const ok = await call(asProxy, "signNodeLogin", { args: [proof, "root", pub, later] });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.match(ok.body.result, /^ssh-ed25519-cert-v01@openssh.com /);
      const other = await call(asProxy, "signNodeLogin", { args: [proof, "admin", pub, later] });
      assert.equal(other.status, 403);
    });

    await t.step("a join token works once", async () => {
      const joining = proxyArgs(
        [cluster.authServer!.authPort],
        await proxyJoinToken(cluster.admin),
      );
      const args = (dir: string) => ["start", "--data-dir", dir, ...joining];
      await using first = await startPosternProcess({
        args: joining,
      });
      assert.ok(first.url);
      const second = await runPostern(args(join(cluster.dir, "d")));
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /join token is unknown, used or expired/);
    });

    await t.step("an expired join token is refused", async () => {
      const token = await proxyJoinToken(cluster.admin, "--ttl", "1s");
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const result = await runPostern([
        "start",
        "--data-dir",
        join(cluster.dir, "f"),
        ...proxyArgs([cluster.authServer!.authPort], token),
      ]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /join token is unknown, used or expired/);
    });

    await t.step("a proxy uses whichever listed auth server answers", async () => {
      await using proxy = await startPosternProcess({
        args: proxyArgs(
          [freePort(), cluster.authServer!.authPort],
          await proxyJoinToken(cluster.admin),
        ),
      });
      const client = await proxy.client();
      try {
        const ready = await fetch(`${proxy.url}/readyz`, { client });
        assert.equal(ready.status, 200, await ready.text());
      } finally {
        client.close();
      }
    });

    await t.step("a wrong CA pin is refused before the token is sent", async () => {
      const { token } = await proxyJoinToken(cluster.admin);
      const result = await runPostern([
        "start",
        "--data-dir",
        join(cluster.dir, "e"),
        ...proxyArgs([cluster.authServer!.authPort], { token, caPin: `sha256:${"0".repeat(64)}` }),
      ]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /presents a CA whose pin is sha256:/);
    });

    await t.step("an expired proxy identity and a self-signed one are refused", async () => {
      // Issued by the cluster CA itself (read from auth's store), but expired.
      const store = SqliteStore.open(cluster.authServer!.dataDir);
      let expired: string;
      const keys = await generateTlsKeyPair();
      try {
        const ca = await ClusterTlsCa.open(store, "postern");
        expired = await ca.issue({
          publicKey: keys.publicKey,
          name: { kind: "proxy", id: proxyIdOf(cert) },
          ttlMs: 1_000,
          now: Date.now() - 3_600_000,
        });
      } finally {
        store.close();
      }
      const selfSigned = await generateSelfSigned({ dns: ["mallory"], ips: [] });
      for (
        const [what, client] of [
          [
            "expired",
            Deno.createHttpClient({ caCerts: [ca], cert: expired, key: keys.privateKey }),
          ],
          ["self-signed", Deno.createHttpClient({ caCerts: [ca], ...selfSigned })],
        ] as const
      ) {
        try {
          const result = await call(client, "clusterInfo", {}).catch((error) => ({
            status: 0,
            body: String(error),
          }));
          assert.ok(result.status === 0 || result.status === 401, `${what}: ${result.status}`);
        } finally {
          client.close();
        }
      }
    });

    await t.step("a removed proxy's identity is refused", async () => {
      const removed = await cluster.admin("proxies", "rm", proxyIdOf(cert));
      assert.equal(removed.code, 0, removed.stderr);
      const result = await call(asProxy, "clusterInfo", {});
      assert.equal(result.status, 403);
      assert.match(result.body.error.message, /was removed from the cluster/);
    });
  } finally {
    asProxy.close();
    anonymous.close();
  }
});

/** The CN of a proxy identity certificate. */
function proxyIdOf(certPem: string): string {
  const cn = new X509Certificate(certPem).subject.split("\n").find((l) => l.startsWith("CN="));
  return cn!.slice(3);
}

/** Polls `check` for up to 15 s. */
async function waitFor(check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/** Signs in on `base` in Chromium, opens a terminal on saturn as root and runs `command`. */
async function webTerminal(
  base: string,
  user: { name: string; password: string },
  code: string,
  command: string,
  expected: string,
): Promise<void> {
  await using browser = await launchBrowser();
  const { page } = await browser.newPage();
  await page.goto(`${base}/web/login`);
  await page.getByLabel("User name").fill(user.name);
  await page.getByLabel("Password", { exact: true }).fill(user.password);
  await page.getByLabel("Authenticator code").fill(code);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/web/nodes`);
  await page.goto(`${base}/web/terminal/new?node=saturn&login=root`);
  await page.locator('[data-testid="terminal-status"][data-state="connected"]').waitFor({
    timeout: 15_000,
  });
  const rows = page.locator('[data-testid="terminal"] .xterm-rows');
  // Keys typed before the shell's first prompt may be lost: wait for it.
  await eventually(async () => assert.match(await rows.innerText(), /[#$]\s*$/m));
  await page.getByTestId("terminal").click();
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
  await eventually(async () => {
    const text = await rows.innerText();
    const lines = text.replace(/\u00a0/g, " ").split("\n").map((line) => line.trim());
    assert.ok(lines.includes(expected), `no row "${expected}" in:\n${lines.join("\n")}`);
  }, { timeout: 10_000 });
  assert.deepEqual(browser.incidents, []);
}

Deno.test("live sessions: listed from every proxy, ended from any, and ended when their proxy dies", async (t) => {
  await using cluster = await startCluster({ split: true });
  const [proxyA] = cluster.proxies;
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const bob = await cluster.createUser("bob", { roles: ["admin"], logins: ["root"] });
  const aliceId = await cluster.login(alice);
  const bobWeb = await cluster.webLogin(bob);
  const sessionsOnB = async () =>
    (await cluster.api("GET", "/v1/webapi/sites/postern/sessions", undefined, {
      cookie: bobWeb.cookie,
    })).body.items as { id: string; proxy: string; join_modes: string[] }[];
  const onProxyA = () =>
    spawnSsh([
      ...defaultSshOptions,
      ...identityOptions(aliceId),
      "-tt",
      "-p",
      String(proxyA.sshPort),
      "root:saturn@127.0.0.1",
      "cat",
    ]);
  const started = async (seen: Set<unknown>) => {
    const event = await waitForAudit(
      cluster,
      "session.start",
      (e) => e.user === "alice" && !seen.has(e.session_id),
    );
    seen.add(event.session_id);
    return String(event.session_id);
  };
  const seen = new Set<unknown>();

  let ssh: ReturnType<typeof spawnSsh>;
  let joiners: ReturnType<typeof spawnSsh>[] = [];
  let id = "";
  await t.step("a session on proxy A is listed through proxy B, with its proxy", async () => {
    ssh = onProxyA();
    id = await started(seen);
    const listed = (await sessionsOnB()).find((s) => s.id === id);
    assert.ok(listed, "proxy B lists proxy A's session");
    assert.match(listed.proxy, /^127\.0\.0\.1:\d+-/);
    assert.deepEqual(listed.join_modes, ["observer", "peer"]);
  });

  await t.step("joined through proxy B as observer and as peer, over the peer link", async () => {
    await ssh.type("typed-by-owner\n");
    await ssh.stdout.waitFor(/typed-by-owner/);
    const join = (mode: string, who: TestIdentity) =>
      spawnSsh([
        ...defaultSshOptions,
        ...identityOptions(who),
        "-tt",
        "-p",
        String(cluster.proxies[1].sshPort),
        "root@127.0.0.1",
        `join ${id} ${mode}`,
      ]);
    const bobId = await cluster.login(bob);
    const observer = join("observer", bobId);
    await observer.stdout.waitFor(/typed-by-owner/, 10_000); // the scrollback
    const peer = join("peer", bobId);
    await peer.stderr.waitFor(/joined session .* as peer/, 10_000);
    await peer.type("typed-by-peer\n");
    await ssh.stdout.waitFor(/typed-by-peer/);
    await observer.stdout.waitFor(/typed-by-peer/);
    await observer.type("ignored-from-observer\n");
    await ssh.type("after\n");
    await observer.stdout.waitFor(/after/);
    assert.doesNotMatch(ssh.stdout.text, /ignored-from-observer/);
    const listed = (await sessionsOnB()).find((s) => s.id === id) as unknown as {
      parties: { user: string; mode: string }[];
    };
    assert.ok(listed);
    const joinEvent = await waitForAudit(cluster, "session.join", (e) => e.session_id === id);
    assert.match(String(joinEvent.via), /^127\.0\.0\.1:\d+-/);
    joiners = [observer, peer];
  });

  await t.step("an admin ends it through proxy B; the user sees who ended it", async () => {
    const ended = await cluster.api(
      "DELETE",
      `/v1/webapi/sites/postern/sessions/${id}`,
      undefined,
      { cookie: bobWeb.cookie, "x-csrf-token": bobWeb.csrf },
    );
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    await ssh.exited(10_000);
    assert.match(ssh.stderr.text + ssh.stdout.text, /session ended by bob/);
    for (const joiner of joiners) {
      await joiner.exited(10_000);
      assert.match(joiner.stderr.text + joiner.stdout.text, /session ended by bob/);
    }
    await waitForAudit(cluster, "session.terminate", (e) => e.session_id === id);
    await waitForAudit(cluster, "session.end", (e) => e.session_id === id);
  });

  await t.step("postern sessions ls and end: a user ends their own session", async () => {
    const home = await Deno.makeTempDir({ dir: cluster.dir });
    assert.equal((await cluster.cliLogin(alice, home)).code, 0);
    const own = onProxyA();
    const ownId = await started(seen);
    const env = { POSTERN_HOME: home };
    const ls = await runPostern(["sessions", "ls"], { env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`${ownId}\\s+alice\\s+root\\s+saturn\\s+127\\.0\\.0\\.1:`));
    const ended = await runPostern(["sessions", "end", ownId], { env });
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stdout, /ended/);
    await own.exited(10_000);
    assert.match(own.stderr.text + own.stdout.text, /session ended by alice/);
    const again = await runPostern(["sessions", "end", ownId], { env });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /No live session/);
  });

  await t.step(
    "kill -9 of proxy A: the session ends as proxy lost, its recording is on auth",
    async () => {
      const counter = spawnSsh([
        ...defaultSshOptions,
        ...identityOptions(aliceId),
        "-p",
        String(proxyA.sshPort),
        "root:saturn@127.0.0.1",
        "i=0; while :; do echo n$i; i=$((i+1)); sleep 0.05; done",
      ]);
      const lost = await started(seen);
      await counter.stdout.waitFor(/n40\n/, 15_000);
      proxyA.child.kill("SIGKILL");
      const seenByOwner = Math.max(
        ...[...counter.stdout.text.matchAll(/n(\d+)\n/g)].map((m) => +m[1]),
      );
      await counter.exited(10_000);
      const end = await waitForAudit(cluster, "session.end", (e) => e.session_id === lost, 60_000);
      assert.equal(end.reason, "proxy lost");
      assert.ok(!(await sessionsOnB()).some((s) => s.id === lost));
      // Shipped every second: at most the last second (20 lines) is missing.
      const replay = await cluster.api(
        "GET",
        `/v1/webapi/sites/postern/recordings/${lost}/stream`,
        undefined,
        { cookie: bobWeb.cookie },
      );
      assert.equal(replay.status, 200);
      const recorded = Math.max(
        ...[...String(replay.body).matchAll(/n(\d+)(?:\\r)?\\n/g)].map((m) => +m[1]),
      );
      assert.ok(
        recorded >= seenByOwner - 20,
        `the recording ends at n${recorded}; the owner saw n${seenByOwner}: ${
          String(replay.body).slice(0, 300)
        }`,
      );

      // Restarted with its data dir (its identity, no token), A ships the rest
      // of its spool; auth skips what it has, so no line appears twice.
      const authPort = cluster.authServer!.authPort;
      await using restarted = await startPosternProcess({
        dataDir: proxyA.dataDir,
        args: proxyArgs([authPort]),
      });
      assert.ok(restarted.url);
      let lines: number[] = [];
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const again = await cluster.api(
          "GET",
          `/v1/webapi/sites/postern/recordings/${lost}/stream`,
          undefined,
          { cookie: bobWeb.cookie },
        );
        lines = [...String(again.body).matchAll(/n(\d+)(?:\\r)?\\n/g)].map((m) => +m[1]);
        if (Math.max(...lines) >= seenByOwner) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(
        Math.max(...lines) >= seenByOwner,
        `after the restart it ends at n${Math.max(...lines)}`,
      );
      assert.equal(new Set(lines).size, lines.length, "no line was shipped twice");
      assert.deepEqual(lines, lines.map((_, i) => i), "every line, in order");
    },
  );
});
