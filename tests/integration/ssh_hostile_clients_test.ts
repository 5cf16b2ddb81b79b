/**
 * The SSH gateway under hostile clients, from the outside: sockets that never
 * authenticate are closed within the login grace time, one address cannot hold
 * more unauthenticated connections than allowed (more wait for a slot without
 * a banner, up to a bound, and past it are refused at once), and a real user
 * from another address logs in (and stays in past the grace time) meanwhile;
 * one connection cannot run more sessions (node logins) than allowed.
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { auditEvents, Collected, connectProxy, identityOptions } from "../helpers/gateway.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

const GRACE_MS = 2_000;
const PER_ADDRESS = 5;
/** Connections that may wait for a slot, per slot (lib/proxy/ssh/server.ts). */
const WAITING_PER_SLOT = 10;
/** Scheduling on a busy 2-core test machine; not part of the bound under test. */
const SLACK_MS = 3_000;

/** Reads until the server closes; returns the bytes received and when it closed. */
async function readUntilClosed(conn: Deno.Conn): Promise<{ bytes: number; closedAt: number }> {
  const buffer = new Uint8Array(4096);
  let bytes = 0;
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      bytes += n;
    }
  } catch {
    // A reset is a close too.
  }
  const closedAt = performance.now();
  try {
    conn.close();
  } catch { /* closed already */ }
  return { bytes, closedAt };
}

Deno.test("idle and stalled SSH connections are closed within the login grace time while a user logs in", async () => {
  await using cluster = await startCluster({
    extraConfig: [
      `  login_grace_time: ${GRACE_MS}ms`,
      `  max_unauthenticated_per_address: ${PER_ADDRESS}`,
    ].join("\n"),
  });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const port = cluster.postern.sshPort;

  // From 127.0.0.1: connections that send nothing, and one that stops after
  // its banner (in the key exchange), up to the per-address limit.
  const opened = performance.now();
  const held: Deno.Conn[] = [];
  for (let i = 0; i < PER_ADDRESS; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    if (i === 0) await conn.write(new TextEncoder().encode("SSH-2.0-stalled\r\n"));
    held.push(conn);
  }
  const closing = held.map(readUntilClosed);
  // More from the same address wait for a slot; past the bound one more is
  // refused at once, before any banner; the waiting ones are closed within
  // their grace time too (it counts from accept).
  const waiting: Deno.Conn[] = [];
  for (let i = 0; i < PER_ADDRESS * WAITING_PER_SLOT; i++) {
    waiting.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  const waited = waiting.map(readUntilClosed);
  const extra = await Deno.connect({ hostname: "127.0.0.1", port });
  const refused = await readUntilClosed(extra);
  assert.equal(refused.bytes, 0, "a connection past the waiting room got a banner");
  assert.ok(refused.closedAt - opened < SLACK_MS, "past the waiting room is not refused at once");

  // A real user from another address gets in meanwhile, and an authenticated
  // connection is not cut by the grace time.
  const result = await runSsh([
    ...defaultSshOptions,
    ...identityOptions(id),
    "-b",
    "127.0.0.2",
    "-p",
    String(port),
    "root:saturn@127.0.0.1",
    `sleep ${(GRACE_MS + 1_000) / 1000}; echo still here`,
  ], { timeoutMs: 20_000 });
  assert.equal(result.stdout, "still here\n", result.stderr);
  assert.equal(result.code, 0);

  for (const [i, { bytes, closedAt }] of (await Promise.all(closing)).entries()) {
    assert.ok(bytes > 0, `connection ${i} never got the server's banner`);
    const after = closedAt - opened;
    assert.ok(after < GRACE_MS + SLACK_MS, `connection ${i} was closed only after ${after} ms`);
  }
  for (const [i, { closedAt }] of (await Promise.all(waited)).entries()) {
    const after = closedAt - opened;
    assert.ok(after < GRACE_MS + SLACK_MS, `waiting ${i} was closed only after ${after} ms`);
  }

  // Once they are gone, the address may connect again.
  const again = await Deno.connect({ hostname: "127.0.0.1", port });
  const banner = new Uint8Array(64);
  const n = await again.read(banner);
  again.close();
  assert.match(new TextDecoder().decode(banner.subarray(0, n ?? 0)), /^SSH-2\.0-postern/);
});

Deno.test("one SSH connection runs at most max_sessions_per_connection shells and commands", async () => {
  const limit = 3;
  await using cluster = await startCluster({
    extraConfig: `  max_sessions_per_connection: ${limit}`,
  });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const proxy = await connectProxy(cluster, id, "root:saturn");
  try {
    const run = (i: number) =>
      new Promise<{ out: string; code: number | null }>((resolve, reject) =>
        proxy.exec(`sleep 2; echo ran ${i}`, (error, channel) => {
          if (error) return reject(error);
          const out = new Collected();
          channel.on("data", out.add);
          channel.stderr.on("data", out.add);
          let code: number | null = null;
          channel.on("exit", (status: number | null) => code = status);
          channel.on("close", () => resolve({ out: out.text, code }));
        })
      );
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => run(i)));
    const ran = results.filter((r) => /ran \d/.test(r.out));
    const refused = results.filter((r) => /already runs 3 sessions/.test(r.out));
    assert.equal(ran.length, limit, JSON.stringify(results));
    assert.equal(refused.length, 10 - limit, JSON.stringify(results));
    assert.ok(refused.every((r) => r.code === 1));
    assert.equal((await auditEvents(cluster, "session.start")).length, limit);
    // Once they are done, the connection may run new ones.
    assert.match((await run(99)).out, /ran 99/);
  } finally {
    proxy.end();
  }
});
