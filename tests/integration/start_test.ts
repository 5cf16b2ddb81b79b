import assert from "node:assert/strict";
import { join } from "node:path";
import { runPostern, startPosternProcess } from "../helpers/postern.ts";
import { freePort } from "../helpers/ports.ts";
import { certificateFingerprint } from "../../lib/tls/certificate.ts";
import { allCommands } from "../../lib/cli/registry.ts";

async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

async function keyscan(port: number): Promise<string> {
  const { stdout } = await new Deno.Command("ssh-keyscan", {
    args: ["-t", "ed25519", "-p", String(port), "127.0.0.1"],
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).trim();
}

Deno.test("postern start serves HTTPS with its own cert, SSH with its host key, and restarts the same", async () => {
  const dataDir = join(await Deno.makeTempDir(), "data");
  let firstFingerprint: string;
  let firstHostKey: string;
  {
    await using postern = await startPosternProcess({ dataDir });
    const cert = await Deno.readTextFile(join(dataDir, "tls", "cert.pem"));
    firstFingerprint = certificateFingerprint(cert);
    assert.ok(postern.logs().includes(firstFingerprint), "fingerprint printed at startup");

    const client = await postern.client();
    const response = await fetch(`${postern.url}/healthz`, { client });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok" });
    const ready = await fetch(`${postern.url}/readyz`, { client });
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    client.close();

    assert.equal(await mode(dataDir), 0o700);
    assert.equal(await mode(join(dataDir, "tls", "key.pem")), 0o600);
    assert.equal(await mode(join(dataDir, "ssh", "host_ed25519_key")), 0o600);

    firstHostKey = (await Deno.readTextFile(join(dataDir, "ssh", "host_ed25519_key.pub"))).trim();
    const scanned = await keyscan(postern.sshPort);
    assert.ok(scanned.includes(firstHostKey.split(" ").slice(0, 2).join(" ")), scanned);

    const started = Date.now();
    assert.equal(await postern.stop(), 0);
    assert.ok(Date.now() - started < 2000, "SIGTERM exits within 2 s");
  }
  {
    await using postern = await startPosternProcess({ dataDir });
    const cert = await Deno.readTextFile(join(dataDir, "tls", "cert.pem"));
    assert.equal(certificateFingerprint(cert), firstFingerprint);
    const hostKey = (await Deno.readTextFile(join(dataDir, "ssh", "host_ed25519_key.pub"))).trim();
    assert.equal(hostKey, firstHostKey);
    assert.ok((await keyscan(postern.sshPort)).includes(hostKey.split(" ")[1]));
  }
});

Deno.test("postern start names the port that is already in use", async () => {
  const dataDir = await Deno.makeTempDir();
  const port = freePort();
  using _listener = Deno.listen({ hostname: "127.0.0.1", port });
  const config = join(dataDir, "busy.yaml");
  await Deno.writeTextFile(
    config,
    `proxy:\n  web_listen_addr: 127.0.0.1:${port}\n  ssh_listen_addr: 127.0.0.1:${freePort()}\n`,
  );
  const result = await runPostern(["start", "--config", config, "--data-dir", dataDir]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`port ${port} is already in use`));
});

Deno.test("postern start refuses a bad config naming the field", async () => {
  const dir = await Deno.makeTempDir();
  const config = join(dir, "bad.yaml");
  await Deno.writeTextFile(config, "proxy:\n  web_listen_addr: 3080x\n");
  const result = await runPostern(["start", "--config", config, "--data-dir", dir]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /proxy\.web_listen_addr: "3080x" is not host:port/);
  const check = await runPostern(["config", "check", config]);
  assert.equal(check.code, 1);
  assert.match(check.stderr, /proxy\.web_listen_addr/);
});

Deno.test("postern start with configured TLS files checks they exist and match", async () => {
  const dir = await Deno.makeTempDir();
  const config = join(dir, "tls.yaml");
  await Deno.writeTextFile(
    config,
    `tls:\n  cert_file: ${dir}/missing.pem\n  key_file: ${dir}/key.pem\n`,
  );
  const missing = await runPostern(["start", "--config", config, "--data-dir", dir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /tls\.cert_file: cannot read ".*missing\.pem": no such file/);
});

Deno.test("postern CLI: help for every command, usage errors exit 2", async () => {
  const commands = await allCommands();
  const top = await runPostern(["--help"]);
  assert.equal(top.code, 0);
  for (const command of commands) {
    assert.ok(top.stdout.includes(command.path.join(" ")), command.path.join(" "));
  }
  const helps = await Promise.all(commands.map((c) => runPostern([...c.path, "--help"])));
  helps.forEach((result, i) => {
    assert.equal(result.code, 0, commands[i].path.join(" "));
    assert.match(result.stdout, new RegExp(`^Usage: postern ${commands[i].path.join(" ")}`));
  });
  const unknown = await runPostern(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const badFlag = await runPostern(["start", "--frob"]);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /unknown flag --frob/);
  assert.match(badFlag.stderr, /Usage: postern start/);
  const version = await runPostern(["version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^postern \d+\.\d+\.\d+/);
});

Deno.test("postern start --log-format json writes one JSON object per line", async () => {
  await using postern = await startPosternProcess({ logFormat: "json" });
  await postern.stop();
  const lines = postern.logs().split("\n").filter((line) => line.trim());
  assert.ok(lines.length >= 3);
  for (const line of lines) {
    const entry = JSON.parse(line);
    assert.match(entry.ts, /^\d{4}-\d\d-\d\dT/);
    assert.ok(["debug", "info", "warn", "error"].includes(entry.level), line);
    assert.equal(typeof entry.msg, "string");
    assert.equal(typeof entry.component, "string");
  }
  assert.ok(lines.some((line) => JSON.parse(line).msg === "postern is running"));
});
