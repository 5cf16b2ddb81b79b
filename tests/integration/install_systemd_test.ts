/**
 * `postern install systemd`: the printed unit passes `systemd-analyze verify`
 * without a warning, is hardened, grants CAP_NET_BIND_SERVICE only for a port
 * below 1024, and `--write` installs it under the role's unit name.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runPostern } from "../helpers/postern.ts";

/** Runs `systemd-analyze verify` on `unit` saved as `name`; returns what it printed. */
async function verifyUnit(dir: string, name: string, unit: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, unit);
  const { code, stdout, stderr } = await new Deno.Command("systemd-analyze", {
    args: ["verify", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const printed = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, printed);
  return printed;
}

/** The values of `key=` lines in `unit`. */
function settings(unit: string, key: string): string[] {
  return unit.split("\n").filter((line) => line.startsWith(`${key}=`)).map((line) =>
    line.slice(key.length + 1)
  );
}

Deno.test("postern install systemd prints a hardened unit that systemd-analyze verify accepts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-systemd-" });
  const configPath = join(dir, "postern.yaml");
  await Deno.writeTextFile(configPath, "metrics:\n  listen_addr: 127.0.0.1:3081\n");
  const printed = await runPostern(["install", "systemd", "--config", configPath]);
  assert.equal(printed.code, 0, printed.stderr);
  const unit = printed.stdout;
  assert.equal(await verifyUnit(dir, "postern.service", unit), "");
  for (
    const [key, value] of [
      ["DynamicUser", "yes"],
      ["StateDirectory", "postern"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["NoNewPrivileges", "yes"],
      ["CapabilityBoundingSet", ""],
      ["ExecReload", "/bin/kill -HUP $MAINPID"],
    ]
  ) {
    assert.deepEqual(settings(unit, key), [value], `${key} in:\n${unit}`);
  }
  assert.deepEqual(settings(unit, "AmbientCapabilities"), []);
  const [execStart] = settings(unit, "ExecStart");
  assert.match(execStart, / start --roles auth,proxy --data-dir \/var\/lib\/postern --config /);
  assert.ok(execStart.endsWith(configPath), execStart);
});

Deno.test("postern install systemd grants CAP_NET_BIND_SERVICE only for a port below 1024", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-systemd-" });
  const configPath = join(dir, "low port.yaml");
  await Deno.writeTextFile(configPath, "proxy:\n  web_listen_addr: 0.0.0.0:443\n");
  const printed = await runPostern(["install", "systemd", "--config", configPath]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(await verifyUnit(dir, "postern.service", printed.stdout), "");
  assert.deepEqual(settings(printed.stdout, "AmbientCapabilities"), ["CAP_NET_BIND_SERVICE"]);
  assert.deepEqual(settings(printed.stdout, "CapabilityBoundingSet"), ["CAP_NET_BIND_SERVICE"]);
  // A path with a space is quoted so that systemd keeps it one argument.
  assert.ok(settings(printed.stdout, "ExecStart")[0].endsWith(`"${configPath}"`));

  // The auth role alone does not listen on 443: no capability.
  const authOnly = await runPostern([
    "install",
    "systemd",
    "--roles",
    "auth",
    "--config",
    configPath,
  ]);
  assert.equal(authOnly.code, 0, authOnly.stderr);
  assert.deepEqual(settings(authOnly.stdout, "AmbientCapabilities"), []);
});

Deno.test("postern install systemd --write installs a proxy's unit under its own name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-systemd-" });
  const missing = await runPostern(["install", "systemd", "--roles", "proxy"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /needs its auth servers: --auth-server/);

  const written = await runPostern([
    "install",
    "systemd",
    "--roles",
    "proxy",
    "--auth-server",
    "auth.example.com:3025",
    "--user",
    "postern",
    "--write",
    "--unit-dir",
    dir,
  ]);
  assert.equal(written.code, 0, written.stderr);
  assert.match(written.stdout, /systemctl daemon-reload && systemctl enable --now postern-proxy/);
  const unit = await Deno.readTextFile(join(dir, "postern-proxy.service"));
  assert.equal((await Deno.stat(join(dir, "postern-proxy.service"))).mode! & 0o777, 0o644);
  assert.deepEqual(settings(unit, "User"), ["postern"]);
  assert.deepEqual(settings(unit, "DynamicUser"), []);
  assert.deepEqual(settings(unit, "StateDirectory"), ["postern-proxy"]);
  assert.match(
    settings(unit, "ExecStart")[0],
    / start --roles proxy --data-dir \/var\/lib\/postern-proxy --auth-server auth.example.com:3025$/,
  );
  assert.equal(await verifyUnit(dir, "check.service", unit), "");
});
