/**
 * A joiner on another proxy that stops reading cannot grow the memory of the
 * proxy that runs the session: with auth and two proxies as separate
 * processes, a session on proxy A pours out 400 MB while a joiner stalls,
 * either a stock `ssh` joined through proxy B and stopped (SIGSTOP), or a
 * peer link to A that stops reading. The owner receives every byte, A's
 * resident memory stays under a ceiling, and the stalled joiner is
 * disconnected with a message saying why.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readIdentity } from "../../lib/auth/api/identity.ts";
import { encodeFrame, Frame, FrameReader, jsonOf } from "../../lib/proxy/peer/frames.ts";
import { startCluster, type TestCluster, type TestIdentity } from "../helpers/cluster.ts";
import { type FloodSession, startFloodSession } from "../helpers/flood.ts";
import { identityOptions, spawnSsh } from "../helpers/gateway.ts";
import type { PosternProcess } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

/** Output of each flood. */
const FLOOD_BYTES = 400_000_000;
/**
 * How far the owning proxy's peak RSS with a stalled joiner may exceed its
 * peak during the same floods with no joiner. Buffering the flood for the
 * joiner would take more than the flood itself (the test fails by about that
 * much with the backlog limit lifted); with the bounded backlog (8 MiB per
 * joiner) the peaks differ by garbage not yet collected, well under this.
 */
const RSS_HEADROOM = 200 * 1024 * 1024;

Deno.test("a stalled joiner on another proxy cannot grow the owning proxy's memory", async (t) => {
  // Its recordings hold every flood: they go with its temp dir when it stops.
  await using cluster = await startCluster({ split: true });
  const [proxyA, proxyB] = cluster.proxies;
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const bob = await cluster.createUser("bob", { roles: ["admin"], logins: ["root"] });
  const [aliceId, bobId] = [await cluster.login(alice), await cluster.login(bob)];
  const seen = new Set<unknown>();
  let ceiling = 0;

  await t.step("the owning proxy's peak with no joiner", async () => {
    // Twice: the first flood also grows the heap from its size at start.
    for (let i = 0; i < 2; i++) {
      const flood = await startFloodSession(cluster, proxyA, "alice", aliceId, FLOOD_BYTES, seen);
      const [peakA] = await pourWatching(flood, [proxyA]);
      ceiling = Math.max(ceiling, peakA + RSS_HEADROOM);
    }
  });

  await t.step("stock ssh joined through proxy B, then stopped (SIGSTOP)", async () => {
    const flood = await startFloodSession(cluster, proxyA, "alice", aliceId, FLOOD_BYTES, seen);
    const joiner = spawnSsh([
      ...defaultSshOptions,
      ...identityOptions(bobId),
      "-p",
      String(proxyB.sshPort),
      "root@127.0.0.1",
      `join ${flood.id} observer`,
    ]);
    await joiner.stderr.waitFor(/joined session .* as observer/, 30_000);
    joiner.kill("SIGSTOP");
    // B holds the joiner's backlog, A the link's: neither may hold the flood.
    // B relays only what the joiner gets before it is cut off, so its own
    // level before the flood is its measure.
    const ceilingB = await rss(proxyB.child.pid) + RSS_HEADROOM;
    let peaks: number[];
    try {
      peaks = await pourWatching(flood, [proxyA, proxyB]);
    } finally {
      joiner.kill("SIGCONT");
    }
    assert.ok(
      peaks[0] < ceiling,
      `proxy A's RSS peaked at ${mib(peaks[0])}, above ${mib(ceiling)}`,
    );
    assert.ok(
      peaks[1] < ceilingB,
      `proxy B's RSS peaked at ${mib(peaks[1])}, above ${mib(ceilingB)}`,
    );
    await joiner.exited(60_000);
    assert.match(joiner.stdout.text.slice(-300), /could not keep up with the session/);
    assert.ok(
      joiner.stdout.text.length < FLOOD_BYTES / 4,
      `the stopped joiner was sent ${mib(joiner.stdout.text.length)} before it was cut off`,
    );
  });

  await t.step("a peer link to proxy A whose reader is stopped (SIGSTOP)", async () => {
    const flood = await startFloodSession(cluster, proxyA, "alice", aliceId, FLOOD_BYTES, seen);
    const link = await stalledPeerLink(cluster, proxyB, proxyA, flood.id, bobId);
    let peak: number;
    try {
      [peak] = await pourWatching(flood, [proxyA]);
    } finally {
      link.resume();
    }
    assert.ok(peak < ceiling, `proxy A's RSS peaked at ${mib(peak)}, above ${mib(ceiling)}`);
    const closed = await link.ended();
    assert.match(closed.reason ?? "(no CLOSE frame)", /could not keep up with the session/);
    assert.ok(
      closed.dataBytes < FLOOD_BYTES / 4,
      `the stalled link was sent ${mib(closed.dataBytes)} before it was cut off`,
    );
  });
});

/**
 * Pours `flood` out while sampling the memory of `watched` proxies.
 *
 * @returns the peak RSS of each, in bytes
 */
async function pourWatching(flood: FloodSession, watched: PosternProcess[]): Promise<number[]> {
  const sample = () => Promise.all(watched.map((p) => rss(p.child.pid)));
  let peaks = await sample();
  const record = (now: number[]) => peaks = peaks.map((peak, i) => Math.max(peak, now[i]));
  const sampler = setInterval(async () => record(await sample().catch(() => peaks)), 100);
  try {
    await flood.pour();
  } finally {
    clearInterval(sampler);
  }
  record(await sample());
  return peaks;
}

/**
 * Joins session `id` on `owner` as proxy `via` would (its cluster identity,
 * the joiner's certificate as proof), through `openssl s_client`, which is
 * stopped (SIGSTOP) once the join is accepted: a link nobody reads.
 */
async function stalledPeerLink(
  cluster: TestCluster,
  via: PosternProcess,
  owner: PosternProcess,
  id: string,
  joiner: TestIdentity,
): Promise<{ resume(): void; ended(): Promise<{ reason?: string; dataBytes: number }> }> {
  const identity = (await readIdentity(join(via.dataDir, "identity", "identity.pem")))!;
  const files = { cert: identity.cert, key: identity.key, ca: identity.ca };
  const paths = Object.fromEntries(
    await Promise.all(
      Object.entries(files).map(async ([name, pem]) => {
        const path = join(cluster.dir, `peer-${name}.pem`);
        await Deno.writeTextFile(path, pem, { mode: 0o600 });
        return [name, path];
      }),
    ),
  );
  const child = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-quiet",
      "-connect",
      `127.0.0.1:${owner.peerPort}`,
      "-cert",
      paths.cert,
      "-key",
      paths.key,
      "-CAfile",
      paths.ca,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const stdin = child.stdin.getWriter();
  await stdin.write(encodeFrame(Frame.JOIN, {
    sessionId: id,
    mode: "observer",
    proof: { kind: "certificate", certificate: joiner.cert.split(" ")[1] },
    via: "slow-joiner-test",
  }));
  const { promise: accepted, resolve: accept, reject } = Promise.withResolvers<void>();
  const closed = (async () => {
    const reader = new FrameReader();
    let reason: string | undefined;
    let dataBytes = 0;
    for await (const chunk of child.stdout) {
      for (const { type, payload } of reader.push(chunk)) {
        if (type === Frame.HELLO) {
          child.kill("SIGSTOP");
          accept();
        } else if (type === Frame.ERROR) reject(new Error(new TextDecoder().decode(payload)));
        else if (type === Frame.DATA) dataBytes += payload.byteLength;
        else if (type === Frame.CLOSE) reason = jsonOf<{ reason: string }>(payload).reason;
      }
    }
    reject(new Error("the link closed before the join was accepted"));
    await stdin.close().catch(() => {});
    await child.status;
    return { reason, dataBytes };
  })();
  await within(accepted, 30_000, "the owning proxy to accept the join");
  return {
    resume: () => child.kill("SIGCONT"),
    ended: () => within(closed, 120_000, "the link to end"),
  };
}

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) =>
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms)
  );
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The resident memory of process `pid`, in bytes. */
async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = Number(status.match(/^VmRSS:\s+(\d+) kB$/m)?.[1]);
  return kib * 1024;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
