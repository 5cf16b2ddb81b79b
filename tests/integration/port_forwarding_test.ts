/**
 * Port forwarding through the proxy, as users do it: stock OpenSSH `-L`/`-R`/`-D`
 * on a proxy-terminated connection (`root:saturn@proxy`), `postern ssh -N
 * -L/-R` (terminated and `--tunnel`), refusal for roles without
 * `port_forwarding`, and the audit trail. The far ends are TCP echo servers
 * on loopback; the node is a real sshd.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster, type TestCluster, type TestIdentity } from "../helpers/cluster.ts";
import { MAIN, runPostern } from "../helpers/postern.ts";
import { sshKeygen, sshTestOptions } from "../helpers/sshd.ts";
import { waitForAudit } from "../helpers/gateway.ts";
import { freePort } from "../helpers/ports.ts";
import { randomBytes } from "../helpers/loopback.ts";

const EXTRA_CONFIG = `
roles:
  - name: no-forwarding
    logins: [root]
    node_labels: { "*": "*" }
`;

/** A TCP server on 127.0.0.1 that sends back what it reads. */
function startEcho(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  void (async () => {
    for await (const conn of listener) {
      conn.readable.pipeTo(conn.writable).catch(() => {});
    }
  })().catch(() => {});
  return { port: listener.addr.port, close: () => listener.close() };
}

/** Sends `size` random bytes to 127.0.0.1:port and checks the same come back. */
async function echoes(port: number, size = 64 * 1024): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const sent = randomBytes(size);
  const writing = (async () => {
    const writer = conn.writable.getWriter();
    await writer.write(sent);
  })();
  const received = new Uint8Array(size);
  let got = 0;
  const reader = conn.readable.getReader();
  while (got < size) {
    const { value, done } = await reader.read();
    if (done) break;
    received.set(value, got);
    got += value.length;
  }
  await writing;
  conn.close();
  assert.equal(got, size, `only ${got} of ${size} bytes came back`);
  assert.deepEqual(received, sent);
}

/** Waits until something accepts on 127.0.0.1:port. */
async function listening(port: number, process: LongRunning): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      if (process.exited) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${port}; output:\n${process.stderr()}`);
}

/** A process that runs until stopped, with its stderr collected. */
interface LongRunning extends AsyncDisposable {
  exited: boolean;
  stderr(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

function spawn(cmd: string, args: string[], env: Record<string, string> = {}): LongRunning {
  const child = new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const handle: LongRunning = {
    exited: false,
    stderr: () => text,
    async stop(signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* exited */ }
      return (await child.status).code;
    },
    async [Symbol.asyncDispose]() {
      if (!handle.exited) await handle.stop("SIGKILL");
    },
  };
  void child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (text += chunk) }),
  );
  child.status.then(() => (handle.exited = true));
  return handle;
}

function sshArgs(
  cluster: TestCluster,
  who: TestIdentity,
  logLevel: "ERROR" | "INFO" = "ERROR",
): string[] {
  return [
    ...sshTestOptions(logLevel),
    "-i",
    who.keyPath,
    "-o",
    `CertificateFile=${who.certPath}`,
    "-o",
    "ExitOnForwardFailure=yes",
    "-p",
    String(cluster.postern.sshPort),
  ];
}

/** Stock `ssh -N <flag> <spec> root:saturn@proxy`, running until disposed. */
function sshForward(
  cluster: TestCluster,
  who: TestIdentity,
  flag: "-L" | "-R" | "-D",
  spec: string,
  logLevel: "ERROR" | "INFO" = "ERROR",
): LongRunning {
  return spawn("ssh", [
    ...sshArgs(cluster, who, logLevel),
    "-N",
    flag,
    spec,
    "root:saturn@127.0.0.1",
  ]);
}

Deno.test("port forwarding through the proxy", async (t) => {
  await using cluster = await startCluster({ extraConfig: EXTRA_CONFIG });
  const echo = startEcho();
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const aliceId = await cluster.login(alice);

  await t.step(
    "stock ssh -L on root:saturn@proxy reaches a port as seen from the node",
    async () => {
      const port = freePort();
      await using ssh = sshForward(cluster, aliceId, "-L", `${port}:127.0.0.1:${echo.port}`);
      await listening(port, ssh);
      await echoes(port, 1_000_003);
      await echoes(port);
      const event = await waitForAudit(cluster, "port.forward", (e) => e.user === "alice");
      assert.equal(event.kind, "local");
      assert.equal(event.node, "saturn");
      assert.equal(event.addr, `127.0.0.1:${echo.port}`);
    },
  );

  await t.step("stock ssh -D: a SOCKS5 request reaches the port from the node", async () => {
    const port = freePort();
    await using ssh = sshForward(cluster, aliceId, "-D", `127.0.0.1:${port}`);
    await listening(port, ssh);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const exchange = async (request: number[], replyLength: number) => {
      await conn.write(new Uint8Array(request));
      const reply = new Uint8Array(replyLength);
      for (let got = 0; got < replyLength;) {
        const n = await conn.read(reply.subarray(got));
        if (n === null) throw new Error("the SOCKS server closed the connection");
        got += n;
      }
      return reply;
    };
    assert.deepEqual(await exchange([5, 1, 0], 2), new Uint8Array([5, 0]));
    const connect = [5, 1, 0, 1, 127, 0, 0, 1, echo.port >> 8, echo.port & 255];
    assert.equal((await exchange(connect, 10))[1], 0, "SOCKS CONNECT succeeded");
    assert.deepEqual(await exchange([1, 2, 3, 4, 5], 5), new Uint8Array([1, 2, 3, 4, 5]));
    conn.close();
  });

  await t.step("stock ssh -R makes the node listen and connects back", async () => {
    const port = freePort();
    await using ssh = sshForward(cluster, aliceId, "-R", `${port}:127.0.0.1:${echo.port}`);
    await listening(port, ssh);
    await echoes(port, 1_000_003);
    const event = await waitForAudit(
      cluster,
      "port.forward",
      (e) => e.kind === "remote",
    );
    assert.equal(event.addr, `localhost:${port}`);
  });

  await t.step(
    "a role without port_forwarding is refused, and its certificate says so",
    async () => {
      const carol = await cluster.createUser("carol", {
        roles: ["no-forwarding"],
        logins: ["root"],
      });
      const carolId = await cluster.login(carol);
      const keygen = await sshKeygen(["-L", "-f", carolId.certPath]);
      assert.doesNotMatch(keygen.stdout, /permit-port-forwarding/);
      assert.match(
        (await sshKeygen(["-L", "-f", aliceId.certPath])).stdout,
        /permit-port-forwarding/,
      );

      const port = freePort();
      await using ssh = sshForward(
        cluster,
        carolId,
        "-L",
        `${port}:127.0.0.1:${echo.port}`,
        "INFO",
      );
      await listening(port, ssh);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.equal(await conn.read(new Uint8Array(16)), null, "the forward must be closed");
      conn.close();
      const event = await waitForAudit(
        cluster,
        "port.forward",
        (e) => e.user === "carol" && !e.success,
      );
      assert.match(String(event.error), /do not allow port forwarding/);
      for (let i = 0; i < 50 && !/allow port forwarding/.test(ssh.stderr()); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(ssh.stderr(), /open failed: .*Your roles do not allow port forwarding/);

      const remote = sshForward(cluster, carolId, "-R", `${freePort()}:127.0.0.1:${echo.port}`);
      assert.equal(
        await (async () => {
          for (let i = 0; i < 200 && !remote.exited; i++) {
            await new Promise((r) => setTimeout(r, 50));
          }
          return remote.stop();
        })(),
        255,
        "ExitOnForwardFailure: ssh exits when -R is refused",
      );
    },
  );

  await t.step("postern ssh -N -L and -R, terminated and --tunnel", async () => {
    const home = join(cluster.dir, "bob-home");
    const bob = await cluster.createUser("bob", { logins: ["root"] });
    const login = await cluster.cliLogin(bob, home);
    assert.equal(login.code, 0, login.stderr);
    const env = { POSTERN_HOME: home };
    for (const tunnel of [[], ["--tunnel"]]) {
      const local = freePort();
      const remote = freePort();
      await using cli = spawn(Deno.execPath(), [
        "run",
        "-A",
        MAIN,
        "ssh",
        ...tunnel,
        "-N",
        "-L",
        `${local}:127.0.0.1:${echo.port}`,
        "-R",
        `127.0.0.1:${remote}:127.0.0.1:${echo.port}`,
        "root@saturn",
      ], env);
      await listening(local, cli);
      await listening(remote, cli);
      await echoes(local, 500_000);
      await echoes(remote, 500_000);
      assert.match(
        cli.stderr(),
        new RegExp(`Forwarding 127\\.0\\.0\\.1:${local} -> 127\\.0\\.0\\.1:${echo.port}`),
      );
      assert.equal(await cli.stop("SIGINT"), 0, cli.stderr());
    }
  });

  await t.step("postern ssh names a malformed forward and a port in use", async () => {
    const home = join(cluster.dir, "bob-home");
    const bad = await runPostern(["ssh", "-L", "8080:nowhere", "root@saturn"], {
      env: { POSTERN_HOME: home },
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /-L "8080:nowhere" is not \[bind_address:\]port:host:hostport/);
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const inUse = await runPostern(
      ["ssh", "-N", "-L", `${busy.addr.port}:127.0.0.1:${echo.port}`, "root@saturn"],
      { env: { POSTERN_HOME: home } },
    );
    busy.close();
    assert.equal(inUse.code, 1, inUse.stderr);
    assert.match(
      inUse.stderr,
      new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${busy.addr.port} for -L`),
    );
  });

  echo.close();
});
