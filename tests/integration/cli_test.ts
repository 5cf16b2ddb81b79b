import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { MAIN, posternOnPath, runPostern } from "../helpers/postern.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";
import { generateSelfSigned } from "../../lib/tls/certificate.ts";

/** Runs the CLI as a user with its own ~/.tsh. */
function cli(
  home: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
) {
  return runPostern(args, {
    stdin: options.stdin,
    env: { POSTERN_HOME: home, USER: "root", ...options.env },
  });
}

async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

Deno.test("postern CLI: login, status, ls, ssh, config, proxy ssh, sessions, play, logout", async (t) => {
  await using cluster = await startCluster({ labels: { env: "test", team: "db" } });
  const alice = await cluster.createUser("alice", { roles: ["access"], logins: ["root"] });
  const home = join(cluster.dir, "alice-home");
  const proxyDir = join(home, "keys", `127.0.0.1_${cluster.postern.webPort}`);

  await t.step("login shows the fingerprint, pins it and stores keys 0600", async () => {
    const result = await cluster.cliLogin(alice, home);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /SHA256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    assert.match(result.stderr, /Logged in as alice/);
    assert.equal(await mode(join(proxyDir, "alice")), 0o600);
    assert.match(
      await Deno.readTextFile(join(proxyDir, "alice-cert.pub")),
      /^ssh-ed25519-cert-v01@openssh.com /,
    );
    assert.match(
      await Deno.readTextFile(join(home, "known_hosts")),
      /^@cert-authority \*\.postern/m,
    );
    const keygen = await new Deno.Command("ssh-keygen", {
      args: ["-L", "-f", join(proxyDir, "alice-cert.pub")],
    })
      .output();
    assert.match(
      new TextDecoder().decode(keygen.stdout),
      /Key ID: "alice"[\s\S]*Principals: \n\s+root/,
    );
  });

  await t.step("status and ls", async () => {
    const status = await cli(home, ["status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Logged in as: alice/);
    assert.match(status.stdout, /Valid until: .*\[valid for/);
    const ls = await cli(home, ["ls"]);
    assert.match(ls.stdout, /saturn\s+127\.0\.0\.1:\d+\s+env=test,team=db\s+root/);
    const filtered = await cli(home, ["ls", "team=web"]);
    assert.equal(filtered.stdout.trim(), "(none)");
    const json = JSON.parse((await cli(home, ["ls", "--format", "json"])).stdout);
    assert.deepEqual(json.map((n: { name: string }) => n.name), ["saturn"]);
  });

  await t.step("ssh runs a command and returns its exit code", async () => {
    const ok = await cli(home, ["ssh", "root@saturn", "--", "echo", "ok"]);
    assert.equal(ok.stdout.trim(), "ok", ok.stderr);
    assert.equal(ok.code, 0);
    const seven = await cli(home, ["ssh", "root@saturn", "--", "exit", "7"]);
    assert.equal(seven.code, 7);
    const denied = await cli(home, ["ssh", "admin@saturn", "--", "true"]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /certificate does not allow login "admin" \(allowed: root\)/);
    const unknown = await cli(home, ["ssh", "root@mars", "--", "true"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Node "mars" is not registered/);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /, "no stack trace");
  });

  await t.step("ssh --tunnel goes end to end through the proxy subsystem", async () => {
    const result = await cli(home, [
      "ssh",
      "--tunnel",
      "root@saturn",
      "--",
      "echo",
      "tunneled;",
      "exit",
      "4",
    ]);
    assert.equal(result.stdout.trim(), "tunneled", result.stderr);
    assert.equal(result.code, 4);
    const audit = await cluster.admin("audit", "--type", "tunnel.start", "--json");
    assert.match(audit.stdout, /"kind":"subsystem"/);
  });

  await t.step("postern config works with stock ssh -F", async () => {
    const config = await cli(home, ["config"]);
    assert.equal(config.code, 0, config.stderr);
    const file = join(cluster.dir, "ssh_config");
    await Deno.writeTextFile(file, config.stdout);
    const result = await runSsh([
      "-F",
      file,
      "-o",
      "BatchMode=yes",
      "root@saturn",
      "echo",
      "via-config",
    ]);
    assert.equal(result.stdout.trim(), "via-config", result.stderr);
    // The README's lines after `postern config >> ~/.ssh/config`, verbatim but for host and port.
    const proxy = `127.0.0.1:${cluster.postern.sshPort}`;
    const jump = await runSsh([
      "-F",
      file,
      "-o",
      "BatchMode=yes",
      "-J",
      `root@${proxy}`,
      "root@saturn",
      "echo",
      "jumped",
    ]);
    assert.equal(jump.stdout.trim(), "jumped", jump.stderr);
    const recorded = await runSsh([
      "-F",
      file,
      "-o",
      "BatchMode=yes",
      "-p",
      String(cluster.postern.sshPort),
      "root:saturn@127.0.0.1",
      "echo",
      "recorded",
    ]);
    assert.equal(recorded.stdout.trim(), "recorded", recorded.stderr);
  });

  await t.step("postern proxy ssh is a ProxyCommand over HTTPS", async () => {
    const proxyCommand =
      `env POSTERN_HOME=${home} ${Deno.execPath()} run -A ${MAIN} proxy ssh %r@%h:%p`;
    const result = await runSsh([
      ...defaultSshOptions,
      "-i",
      join(proxyDir, "alice"),
      "-o",
      `ProxyCommand=${proxyCommand}`,
      "root@saturn",
      "sha256sum",
    ], { stdin: "x".repeat(1_000_000), timeoutMs: 30_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^c19d0eb5e4c4d0a40c9b2e8bb67d8ea2c3c5cf00b2a6a3e5b1a4c2a0a6d1b5d6|^[0-9a-f]{64}/,
    );
    const expected = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode("x".repeat(1_000_000))),
    );
    const hex = Array.from(expected).map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(result.stdout.split(" ")[0], hex);
  });

  await t.step("join a live session started by another client and play it back", async () => {
    const session = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "ssh",
        "root@saturn",
        "--",
        "echo marker-one; sleep 4; echo marker-two",
      ],
      env: { POSTERN_HOME: home, USER: "root" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let id = "";
    for (let i = 0; i < 50 && !id; i++) {
      const listing = JSON.parse((await cli(home, ["sessions", "ls", "--format", "json"])).stdout);
      id = listing.live[0]?.id ?? "";
      if (!id) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(id, "the live session is listed");
    const joined = await cli(home, ["join", id]);
    assert.match(joined.stdout, /marker-two/);
    assert.match(joined.stderr, /joined session .* as observer/);
    const output = await session.output();
    assert.equal(output.code, 0);
    const played = await cli(home, ["play", id, "--speed", "50"]);
    assert.equal(played.code, 0, played.stderr);
    assert.match(played.stdout, /marker-one[\s\S]*marker-two/);
  });

  await t.step("a changed proxy certificate is refused loudly", async () => {
    const pinned = join(proxyDir, "proxy-cert.pem");
    const original = await Deno.readTextFile(pinned);
    await Deno.writeTextFile(
      pinned,
      (await generateSelfSigned({ dns: ["localhost"], ips: ["127.0.0.1"] })).cert,
    );
    const result = await cli(home, ["ls"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /CERTIFICATE HAS CHANGED/);
    assert.match(result.stderr, /Pinned fingerprint: +SHA256 /);
    await Deno.writeTextFile(pinned, original);
  });

  await t.step("logout removes the keys", async () => {
    const result = await cli(home, ["logout"]);
    assert.equal(result.code, 0, result.stderr);
    await assert.rejects(Deno.stat(join(proxyDir, "alice")));
    const status = await cli(home, ["status"]);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /Not logged in; run `postern login/);
  });
});

Deno.test("postern CLI: expired certificate and agent with stock ssh", async (t) => {
  await using cluster = await startCluster();
  const bob = await cluster.createUser("bob", { roles: ["access"], logins: ["root"] });
  const home = join(cluster.dir, "bob-home");

  // The README's lines run verbatim in bash, with `postern` a script on PATH.
  const bin = await posternOnPath(cluster.dir);
  const shell = async (script: string) => {
    const output = await new Deno.Command("bash", {
      args: ["-c", script],
      env: { POSTERN_HOME: home, USER: "root", PATH: `${bin}:${Deno.env.get("PATH")}` },
      stdin: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
  };
  const gone = async (path: string) => {
    for (let i = 0; i < 50; i++) {
      if (!(await Deno.stat(path).then(() => true, () => false))) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };
  const config = join(cluster.dir, "agent_config");
  await Deno.writeTextFile(
    config,
    [
      "Host *",
      "  StrictHostKeyChecking no",
      "  UserKnownHostsFile /dev/null",
      "  BatchMode yes",
      "  LogLevel ERROR",
      "Host proxy",
      "  HostName 127.0.0.1",
      `  Port ${cluster.postern.sshPort}`,
      "  User root",
      "Host saturn",
      "  ProxyJump proxy",
    ].join("\n"),
  );

  await t.step(
    'eval "$(postern agent)" returns; stock ssh uses it; agent -k stops it',
    async () => {
      const login = await cluster.cliLogin(bob, home);
      assert.equal(login.code, 0, login.stderr);
      const started = await shell(
        `eval "$(postern agent)" && ssh-add -L && ` +
          `ssh -F ${config} root@saturn echo agent-ok && echo "sock=$SSH_AUTH_SOCK" && ` +
          `eval "$(postern agent -k)" && echo "after=[$SSH_AUTH_SOCK]"`,
      );
      assert.equal(started.code, 0, started.stderr);
      assert.match(started.stdout, /^Agent pid \d+$/m);
      assert.match(started.stdout, /^ssh-ed25519-cert-v01@openssh.com /m);
      assert.match(started.stdout, /^agent-ok$/m);
      assert.match(started.stdout, /^Agent pid \d+ killed$/m);
      assert.match(started.stdout, /^after=\[\]$/m);
      const socket = started.stdout.match(/^sock=(.+)$/m)![1];
      assert.ok(await gone(socket), "agent -k removes the socket");
    },
  );

  await t.step("the agent prints C shell lines with -c; -k without an agent says so", async () => {
    const socket = join(cluster.dir, "csh.sock");
    const started = await shell(`postern agent -c --socket ${socket}`);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /^setenv SSH_AUTH_SOCK .*csh\.sock;$/m);
    const pid = started.stdout.match(/^setenv SSH_AGENT_PID (\d+);$/m)![1];
    const killed = await shell(`SSH_AGENT_PID=${pid} postern agent -k -c`);
    assert.match(killed.stdout, /^unsetenv SSH_AUTH_SOCK;$/m);
    assert.ok(await gone(socket));
    const none = await shell("unset SSH_AGENT_PID; postern agent -k");
    assert.equal(none.code, 1);
    assert.match(none.stderr, /SSH_AGENT_PID is not set/);
  });

  await t.step("postern logout stops a running agent", async () => {
    const socket = join(cluster.dir, "logout.sock");
    const started = await shell(`postern agent --socket ${socket}`);
    assert.equal(started.code, 0, started.stderr);
    const listed = await new Deno.Command("ssh-add", {
      args: ["-L"],
      env: { SSH_AUTH_SOCK: socket },
    }).output();
    assert.equal(listed.code, 0);
    const logout = await cli(home, ["logout"]);
    assert.equal(logout.code, 0, logout.stderr);
    assert.ok(await gone(socket), "the agent stops serving the removed key");
  });

  await t.step("the agent stops serving when the certificate expires, and says so", async () => {
    const login = await cluster.cliLogin(bob, home, ["--ttl", "3s"]);
    assert.equal(login.code, 0, login.stderr);
    const agent = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "agent", "-D", "--socket", join(cluster.dir, "expiring.sock")],
      env: { POSTERN_HOME: home },
    }).output();
    assert.equal(agent.code, 1);
    assert.match(
      new TextDecoder().decode(agent.stderr),
      /certificate expired at \d{4}-[\d-]+T[\d:.]+Z; run postern login and start the agent again/,
    );
    await assert.rejects(Deno.stat(join(cluster.dir, "expiring.sock")));
  });

  await t.step("an expired certificate says when it expired", async () => {
    const login = await cluster.cliLogin(bob, home, ["--ttl", "1s"]);
    assert.equal(login.code, 0, login.stderr);
    await new Promise((r) => setTimeout(r, 2100));
    const status = await cli(home, ["status"]);
    assert.match(status.stdout, /\[EXPIRED: run postern login\]/);
    const ls = await cli(home, ["ls"]);
    assert.equal(ls.code, 1);
    assert.match(ls.stderr, /certificate expired at \d{4}-\d\d-\d\dT[\d:.]+Z; run postern login/);
  });
});
