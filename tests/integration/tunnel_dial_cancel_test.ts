/**
 * A `proxy:` tunnel to a node that never answers, from the outside: the node
 * is a listener whose accept queue is full, so the proxy's dial stays in
 * SYN-SENT; once the user's `ssh` is gone, the dial is cancelled at once
 * rather than at the (here one minute) dial timeout.
 */

import { join } from "node:path";
import { startCluster } from "../helpers/cluster.ts";
import { identityOptions } from "../helpers/gateway.ts";
import { MAIN } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

/** Bound under test (2 s) plus scheduling slack on a busy 2-core machine. */
const CANCELLED_WITHIN_MS = 2_000 + 2_000;

/** A TCP listener that never accepts, its one-place queue filled: further SYNs go unanswered. */
async function silentNode(): Promise<{ port: number; stop(): Promise<void> }> {
  const child = new Deno.Command("python3", {
    args: [
      "-c",
      "import socket, sys, time\n" +
      "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)\n" +
      "print(s.getsockname()[1], flush=True); time.sleep(600)",
    ],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value?.trim());
  reader.releaseLock();
  const filler = await Deno.connect({ hostname: "127.0.0.1", port });
  return {
    port,
    async stop() {
      filler.close();
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function synSent(port: number): Promise<number> {
  const output = await new Deno.Command("ss", {
    args: ["-tnH", "state", "syn-sent", `( dport = :${port} )`],
  }).output();
  return new TextDecoder().decode(output.stdout).split("\n").filter((line) => line.trim()).length;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Kills the user's client once the proxy dials the node; the dial must end within the bound. */
async function killWhileDialling(client: Deno.ChildProcess, port: number): Promise<void> {
  await waitUntil("the proxy dials the node", async () => await synSent(port) > 0, 30_000);
  client.kill("SIGKILL");
  await client.status;
  await client.stdin.close().catch(() => {});
  await waitUntil(
    "the dial is cancelled",
    async () => await synSent(port) === 0,
    CANCELLED_WITHIN_MS,
  );
}

/** A cluster whose node "silent" never answers, dialled for up to a minute. */
function silentCluster(port: number) {
  // Declared in the config: `nodes add` would try to read its host key.
  return startCluster({
    extraConfig: [
      "  dial_timeout: 60s",
      "nodes:",
      "  - name: silent",
      `    addr: 127.0.0.1:${port}`,
      "    labels: {env: test}",
    ].join("\n"),
  });
}

Deno.test("a proxy: tunnel's dial to a silent node is cancelled when the user gives up", async () => {
  const node = await silentNode();
  try {
    await using cluster = await silentCluster(node.port);
    const alice = await cluster.createUser("alice", { logins: ["root"] });
    const id = await cluster.login(alice);

    const ssh = new Deno.Command("ssh", {
      args: [
        ...defaultSshOptions,
        ...identityOptions(id),
        "-p",
        String(cluster.postern.sshPort),
        "-s",
        "root@127.0.0.1",
        `proxy:silent:${node.port}`,
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await killWhileDialling(ssh, node.port);
  } finally {
    await node.stop();
  }
});

Deno.test("an HTTPS-port tunnel's dial (postern proxy ssh) is cancelled when the user gives up", async () => {
  const node = await silentNode();
  try {
    await using cluster = await silentCluster(node.port);
    const alice = await cluster.createUser("alice", { logins: ["root"] });
    const home = join(cluster.dir, "alice-home");
    const login = await cluster.cliLogin(alice, home);
    if (login.code !== 0) throw new Error(login.stderr);
    const helper = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "proxy", "ssh", `root@silent:${node.port}`],
      env: { POSTERN_HOME: home },
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await killWhileDialling(helper, node.port);
  } finally {
    await node.stop();
  }
});
