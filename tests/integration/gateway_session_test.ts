/**
 * Proxy-terminated sessions on the SSH gateway (`ssh -p 3023 root:saturn@proxy`):
 * exec and pty sessions through the stock OpenSSH client, window changes from
 * an ssh2 pty client, env, exit status and signals, the asciicast recording
 * (read with the same parser as replay) and its metadata, a host key mismatch,
 * and joining a live session as observer and as peer.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import { parseRecording } from "../../lib/session/asciicast.ts";
import { startCluster, type TestIdentity } from "../helpers/cluster.ts";
import {
  type AuditEvent,
  Collected,
  connectProxy,
  identityOptions,
  spawnSsh,
  waitForAudit,
} from "../helpers/gateway.ts";
import { defaultSshOptions, newKeyPair, runSsh, sshKeygen, startSshd } from "../helpers/sshd.ts";

/** A shell opened with ssh2, its output and its end. */
interface Shell {
  channel: ssh2.ClientChannel;
  out: Collected;
  /** Resolves with the exit status (or signal) when the channel closes. */
  exit: Promise<{ code: number | null; signal?: string }>;
  run(line: string): void;
}

function openShell(
  client: ssh2.Client,
  window: ssh2.PseudoTtyOptions,
  env: Record<string, string> = {},
): Promise<Shell> {
  return new Promise((resolve, reject) => {
    client.shell(window, { env }, (error, channel) => {
      if (error) return reject(error);
      const out = new Collected();
      channel.on("data", out.add);
      channel.stderr.on("data", out.add);
      let status: { code: number | null; signal?: string } = { code: null };
      channel.on("exit", (code: number | null, signal?: string) => status = { code, signal });
      const exit = new Promise<{ code: number | null; signal?: string }>((done) =>
        channel.on("close", () => done(status))
      );
      resolve({ channel, out, exit, run: (line) => channel.write(`${line}\n`) });
    });
  });
}

async function fingerprintOf(pubLine: string, dir: string): Promise<string> {
  const path = join(dir, `fp-${crypto.randomUUID()}.pub`);
  await Deno.writeTextFile(path, pubLine + "\n");
  return (await sshKeygen(["-l", "-E", "sha256", "-f", path])).stdout.split(" ")[1];
}

Deno.test("proxy-terminated sessions run, record and can be joined", async (t) => {
  await using cluster = await startCluster();
  const port = String(cluster.postern.sshPort);
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const bob = await cluster.createUser("bob", { roles: ["admin"], logins: ["root"] });
  const erin = await cluster.createUser("erin", { logins: ["root"] });
  const dave = await cluster.createUser("dave", { roles: ["auditor"], logins: [] });
  const aliceId = await cluster.login(alice);
  const bobId = await cluster.login(bob);
  const erinId = await cluster.login(erin);
  const web = await cluster.webLogin(dave);
  const as = (who: TestIdentity) => [...defaultSshOptions, ...identityOptions(who), "-p", port];
  const api = (path: string) =>
    cluster.api("GET", `/v1/webapi/sites/postern${path}`, undefined, { cookie: web.cookie });
  const recording = async (id: string) =>
    parseRecording(
      await Deno.readTextFile(join(cluster.postern.dataDir, "recordings", `${id}.cast`)),
    );
  const ended = (match: (e: AuditEvent) => boolean) => waitForAudit(cluster, "session.end", match);

  await t.step("exec: output, stderr and the exit code come back", async () => {
    const result = await runSsh([
      ...as(aliceId),
      "root:saturn@127.0.0.1",
      "echo hi; echo oops >&2; exit 7",
    ]);
    assert.equal(result.stdout, "hi\n");
    // Only a line: root's shell rc files on this machine may add their own stderr noise.
    assert.match(result.stderr, /^oops$/m);
    assert.equal(result.code, 7);

    const start = await waitForAudit(
      cluster,
      "session.start",
      (e) => e.command === "echo hi; echo oops >&2; exit 7",
    );
    assert.equal(start.user, "alice");
    assert.equal(start.node, "saturn");
    assert.equal(start.login, "root");
    const end = await ended((e) => e.session_id === start.session_id);
    assert.equal(end.exit_code, 7);

    const cast = await recording(String(start.session_id));
    const output = cast.events.filter(([, code]) => code === "o").map(([, , data]) => data).join(
      "",
    );
    assert.match(output, /hi\n/);
    assert.match(output, /oops\n/);
  });

  await t.step("exec: stdin reaches the command and its end is passed on", async () => {
    const input = "x".repeat(300_000);
    const result = await runSsh([...as(aliceId), "root:saturn@127.0.0.1", "wc -c"], {
      stdin: input,
    });
    assert.equal(result.stdout.trim(), String(input.length), result.stderr);
    assert.equal(result.code, 0);
  });

  await t.step(
    "exec: a client that stops reading pauses the node; every byte arrives",
    async () => {
      const bytes = 20_000_000;
      const child = new Deno.Command("ssh", {
        args: [...as(aliceId), "root:saturn@127.0.0.1", `head -c ${bytes} /dev/zero`],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // A node never resumed would leave ssh waiting for the rest forever.
      const stuck = setTimeout(() => child.kill("SIGKILL"), 60_000);
      // Unread, the output fills the pipe, then ssh's window, then the proxy's
      // queue to it past the mark where the node is paused.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      let received = 0;
      for await (const chunk of child.stdout) {
        received += chunk.length;
        // Slowly: the node is paused and resumed many times.
        if (received < bytes / 2) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const status = await child.status;
      clearTimeout(stuck);
      const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
      assert.equal(received, bytes, stderr);
      assert.equal(status.code, 0);
      assert.doesNotMatch(cluster.postern.logs(), /MaxListenersExceeded/);
    },
  );

  await t.step("exec: a command killed by a signal ends the session like on the node", async () => {
    // VTALRM is not among RFC 4254's signal names: sshd reports it as "SIG@openssh.com".
    for (const signal of ["KILL", "VTALRM"]) {
      const command = `kill -${signal} $$`;
      const direct = await runSsh([
        ...defaultSshOptions,
        ...identityOptions(aliceId),
        "-p",
        String(cluster.sshd.port),
        "root@127.0.0.1",
        command,
      ]);
      const proxied = await runSsh([...as(aliceId), "root:saturn@127.0.0.1", command], {
        timeoutMs: 8000,
      });
      assert.equal(proxied.timedOut, false, `ssh hung after ${command}`);
      assert.equal(proxied.code, direct.code, proxied.stderr);
    }
    const end = await ended((e) => e.signal === "SIGKILL");
    assert.equal(end.exit_code, null);
  });

  await t.step("ssh -tt: a pty with TERM and LANG from the client", async () => {
    const result = await runSsh([
      ...as(aliceId),
      "-tt",
      "-o",
      "SetEnv=LANG=C.UTF-8",
      "root:saturn@127.0.0.1",
    ], {
      stdin: "tty -s && echo has-a-tty; echo TERM=$TERM LANG=$LANG; exit 5\n",
      env: { TERM: "vt220" },
    });
    assert.match(result.stdout, /^has-a-tty\r$/m, result.stdout + result.stderr);
    assert.match(result.stdout, /^TERM=vt220 LANG=C\.UTF-8\r$/m);
    assert.equal(result.code, 5);
  });

  await t.step(
    "a pty driven by ssh2: window change reaches the node and the recording",
    async () => {
      const client = await connectProxy(cluster, aliceId, "root:saturn");
      try {
        const shell = await openShell(
          client,
          { term: "xterm-256color", cols: 100, rows: 30 },
          { LANG: "C.UTF-8" },
        );
        shell.run("stty size; echo TERM=$TERM LANG=$LANG");
        await shell.out.waitFor(/^30 100\r?$/m);
        await shell.out.waitFor(/^TERM=xterm-256color LANG=C\.UTF-8\r?$/m);
        const mark = shell.out.text.length;
        shell.channel.setWindow(40, 120, 0, 0);
        // The resize and the next command travel in order on one connection.
        shell.run("stty size");
        await shell.out.waitFor(/^40 120\r?$/m, 10_000, mark);
        shell.run("exit 4");
        assert.deepEqual(await shell.exit, { code: 4, signal: undefined });
      } finally {
        client.end();
      }

      const end = await ended((e) => e.exit_code === 4 && e.user === "alice");
      const id = String(end.session_id);
      const cast = await recording(id);
      assert.equal(cast.header.version, 2);
      assert.equal(cast.header.width, 100);
      assert.equal(cast.header.height, 30);
      assert.deepEqual(cast.header.env, { TERM: "xterm-256color", SHELL: "" });
      const output = cast.events.filter(([, code]) => code === "o").map(([, , data]) => data).join(
        "",
      );
      assert.match(output, /30 100/);
      assert.match(output, /40 120/);
      assert.deepEqual(cast.events.filter(([, code]) => code === "r").map(([, , data]) => data), [
        "120x40",
      ]);
      const times = cast.events.map(([time]) => time);
      assert.deepEqual(times, [...times].sort((a, b) => a - b), "event times never go back");

      const meta = await api(`/recordings/${id}`);
      assert.equal(meta.status, 200, JSON.stringify(meta.body));
      assert.equal(meta.body.user, "alice");
      assert.equal(meta.body.node, "saturn");
      assert.equal(meta.body.login, "root");
      assert.equal(meta.body.exit_code, 4);
      assert.equal(meta.body.cols, 100);
      assert.equal(meta.body.rows, 30);
      assert.ok(meta.body.ended, "the end time is stored");
    },
  );

  await t.step(
    "a window change sent while the proxy still logs in to the node is kept",
    async () => {
      const client = await connectProxy(cluster, aliceId, "root:saturn");
      try {
        const shell = await openShell(client, { term: "xterm", cols: 100, rows: 30 });
        shell.channel.setWindow(50, 132, 0, 0); // before the node session is up
        shell.run("stty size");
        await shell.out.waitFor(/^\d+ \d+\r?$/m);
        assert.match(shell.out.text, /^50 132\r?$/m);
        shell.run("exit");
        await shell.exit;
      } finally {
        client.end();
      }
    },
  );

  await t.step("a node whose host key does not match is refused, naming both keys", async () => {
    const wrong = await newKeyPair(cluster.dir, "wrong-host-key");
    const added = await cluster.admin(
      "nodes",
      "add",
      "imposter",
      `127.0.0.1:${cluster.sshd.port}`,
      "--host-key",
      wrong.pub,
    );
    assert.equal(added.code, 0, added.stderr);
    const expected = await fingerprintOf(wrong.pub, cluster.dir);
    const presented = await fingerprintOf(cluster.sshd.hostKeyPub, cluster.dir);
    const result = await runSsh([...as(aliceId), "root:imposter@127.0.0.1", "echo must-not-run"]);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr.split("\n").filter((line) => line.trim()).length,
      1,
      result.stderr,
    );
    assert.ok(
      result.stderr.startsWith(
        `postern: Cannot connect to imposter (127.0.0.1:${cluster.sshd.port}): host key mismatch: ` +
          `expected ${expected}, presented ${presented}. `,
      ),
      result.stderr,
    );
    assert.match(result.stderr, /update its registered host key/);
    assert.equal(result.code, 1);
  });

  await t.step("a node that refuses a pty says so instead of an internal error", async () => {
    const userCa = (await cluster.admin("ca", "export", "--type", "user")).stdout.trim();
    await using noTty = await startSshd({
      trustedUserCAKeys: userCa,
      extraConfig: ["PermitTTY no"],
    });
    const added = await cluster.admin(
      "nodes",
      "add",
      "notty",
      `127.0.0.1:${noTty.port}`,
      "--host-key",
      noTty.hostKeyPub,
    );
    assert.equal(added.code, 0, added.stderr);
    const result = await runSsh([...as(aliceId), "-tt", "root:notty@127.0.0.1", "true"]);
    assert.equal(
      result.stderr,
      'postern: Cannot start the session on node "notty": it refused a terminal (pty); ' +
        "run a command without -t, or ask its administrator about PermitTTY.\r\n",
    );
    assert.equal(result.code, 1);
    assert.doesNotMatch(cluster.postern.logs(), /internal error/);
  });

  await t.step("a live session can be watched by an observer and shared with a peer", async () => {
    const client = await connectProxy(cluster, aliceId, "root:saturn");
    let shell: Shell | undefined;
    try {
      shell = await openShell(client, { term: "xterm", cols: 80, rows: 24 });
      shell.run("echo ready-$((1+1))");
      await shell.out.waitFor(/ready-2/);
      const live = await api("/sessions");
      const session = live.body.items.find((s: { user: string }) => s.user === "alice");
      assert.ok(session, JSON.stringify(live.body));
      const id = String(session.id);

      const refused = await runSsh([...as(erinId), "root@127.0.0.1", "join", id]);
      assert.equal(refused.stderr, "postern: You may not join other users' sessions.\r\n");
      assert.equal(refused.code, 1);

      const observer = spawnSsh([...as(bobId), "-tt", "root@127.0.0.1", "join", id, "observer"]);
      await observer.stderr.waitFor(new RegExp(`joined session ${id} as observer`));
      shell.run("echo owner-says-$((2+3))");
      await observer.stdout.waitFor(/owner-says-5/);
      const probe = `/tmp/observer-${crypto.randomUUID()}`;
      await observer.type(`echo observer-typed-$((3*3)); touch ${probe}\r`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      shell.run(`test -e ${probe} && echo probe-exists || echo probe-absent`);
      await shell.out.waitFor(/^probe-(exists|absent)\r?$/m);
      assert.match(shell.out.text, /^probe-absent\r?$/m, "the observer's keystrokes ran");
      assert.doesNotMatch(shell.out.text, /observer-typed/);
      await observer.type("\r~.");
      assert.equal(await observer.finish(5000), 255, "~. disconnects the observer");
      const partiesOf = async () =>
        (await api("/sessions")).body.items.find((s: { id: string }) => s.id === id)?.parties;
      let parties = await partiesOf();
      for (let i = 0; i < 20 && parties?.length !== 1; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100)); // the proxy sees the close
        parties = await partiesOf();
      }
      assert.deepEqual(parties, [{ user: "alice", mode: "owner" }], "the observer has left");

      const peer = spawnSsh([...as(bobId), "-tt", "root@127.0.0.1", "join", id, "peer"]);
      await peer.stderr.waitFor(new RegExp(`joined session ${id} as peer`));
      await peer.type("echo peer-typed-$((6*7))\r");
      await shell.out.waitFor(/^peer-typed-42\r?$/m);
      await peer.stdout.waitFor(/^peer-typed-42\r?$/m);

      shell.run("exit 0");
      assert.deepEqual(await shell.exit, { code: 0, signal: undefined });
      await peer.stdout.waitFor(/The session has ended/);
      assert.equal(await peer.finish(), 0);

      const joins = await waitForAudit(
        cluster,
        "session.join",
        (e) => e.session_id === id && e.mode === "peer",
      );
      assert.equal(joins.user, "bob");
    } finally {
      client.end();
    }
  });
});
