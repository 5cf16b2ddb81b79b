/**
 * Live sessions across three proxies behind a real TCP load balancer
 * (haproxy): a session started through the balancer lands on one proxy; the
 * other two, addressed directly, list it, join it with `postern join` as
 * observer and as peer (over the peer link), and every party sees the same
 * bytes; afterwards every proxy replays it, byte for byte what its owner saw.
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import {
  identityOptions,
  spawnInteractive,
  spawnSsh,
  type SshProcess,
  waitForAudit,
} from "../helpers/gateway.ts";
import { startHaproxy } from "../helpers/haproxy.ts";
import { freePort } from "../helpers/ports.ts";
import { MAIN, type PosternProcess, runPostern } from "../helpers/postern.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";

Deno.test("three proxies behind haproxy: a session is listed, joined and replayed from each", async (t) => {
  await using cluster = await startCluster({ split: true, proxyCount: 3 });
  const lbSsh = freePort();
  await using _haproxy = await startHaproxy({
    ssh: { port: lbSsh, backends: cluster.proxies.map((p) => p.sshPort) },
  });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  // One admin per proxy, each logged in to that proxy with `postern login`.
  const watchers = await Promise.all(
    cluster.proxies.map((_, i) =>
      cluster.createUser(`watcher${i}`, { roles: ["admin"], logins: ["root"] })
    ),
  );
  const homes = await Promise.all(cluster.proxies.map(async (proxy, i) => {
    const home = await Deno.makeTempDir({ dir: cluster.dir, prefix: `home-${i}-` });
    const login = await cluster.cliLogin(watchers[i], home, [], proxy);
    assert.equal(login.code, 0, login.stderr);
    return home;
  }));
  const viaProxy = (i: number) => ({ env: { POSTERN_HOME: homes[i] } });

  const owner = spawnSsh([
    ...defaultSshOptions,
    ...identityOptions(await cluster.login(alice)),
    "-tt",
    "-p",
    String(lbSsh),
    "root:saturn@127.0.0.1",
    "cat",
  ]);
  const start = await waitForAudit(cluster, "session.start", (e) => e.user === "alice");
  const id = String(start.session_id);
  const ownerIndex = await proxyIndexOf(cluster, String(start.proxy));
  const others = [0, 1, 2].filter((i) => i !== ownerIndex);
  await owner.type("typed-by-owner\n");
  await owner.stdout.waitFor(/typed-by-owner\r\n.*typed-by-owner/s);

  await t.step("postern sessions ls on each proxy lists it with its owning proxy", async () => {
    for (const i of [0, 1, 2]) {
      const ls = await runPostern(["sessions", "ls", "--format", "json"], viaProxy(i));
      assert.equal(ls.code, 0, ls.stderr);
      const live = JSON.parse(ls.stdout).live as { id: string; proxy: string; user: string }[];
      const found = live.find((s) => s.id === id);
      assert.ok(found, `proxy ${i} lists the session: ${ls.stdout}`);
      assert.equal(found.user, "alice");
      assert.equal(found.proxy, start.proxy);
    }
  });

  const joiners: SshProcess[] = [];
  await t.step("postern join from each other proxy, as observer and as peer", async () => {
    for (const i of others) {
      const observer = postern(["join", id], homes[i]);
      const peer = postern(["join", id, "--mode", "peer"], homes[i]);
      joiners.push(observer, peer);
      await observer.stdout.waitFor(/typed-by-owner/, 30_000); // the scrollback
      await peer.stderr.waitFor(/joined session .* as peer/, 30_000);
      await peer.type(`typed-via-proxy-${i}\n`);
      await owner.stdout.waitFor(
        new RegExp(`typed-via-proxy-${i}\\r\\n.*typed-via-proxy-${i}`, "s"),
      );
      await observer.type(`ignored-from-observer-${i}\n`);
    }
    await owner.type("last-line\n");
    for (const joiner of joiners) {
      await joiner.stdout.waitFor(/last-line\r\n.*last-line/s, 15_000);
    }
    const joins = await waitForAudit(
      cluster,
      "session.join",
      (e) => e.session_id === id && e.mode === "peer" && e.via !== undefined,
    );
    assert.notEqual(joins.via, start.proxy, "the join came over the peer link");
  });

  let seen = "";
  await t.step("the session ends for every party; all saw the same bytes", async () => {
    await owner.type("\x04"); // Ctrl-D: cat exits, the session ends
    assert.equal(await owner.exited(15_000), 0, owner.stderr.text);
    seen = owner.stdout.text;
    assert.doesNotMatch(seen, /ignored-from-observer/);
    // A joiner's terminal also shows the proxy's notices (who joined, the end).
    const notice = /\r\n\[postern: [^\]\r\n]*\]\r\n/g;
    for (const joiner of joiners) {
      await joiner.exited(15_000);
      assert.match(joiner.stdout.text, /\[postern: The session has ended\.\]\r\n$/);
      assert.equal(joiner.stdout.text.replace(notice, ""), seen);
    }
    await waitForAudit(cluster, "session.end", (e) => e.session_id === id);
  });

  await t.step("postern play on each proxy replays exactly what the owner saw", async () => {
    for (const i of [0, 1, 2]) {
      // The owner ships the recording's last second as the session ends.
      let played = "";
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const play = await runPostern(["play", id, "--speed", "1000"], viaProxy(i));
        played = play.stdout;
        if (play.code === 0 && played === seen) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.equal(played, seen, `replayed through proxy ${i}`);
    }
  });
});

/** `postern <args>` as the user logged in under `home`, with piped stdin. */
function postern(args: string[], home: string): SshProcess {
  return spawnInteractive(Deno.execPath(), ["run", "-A", MAIN, ...args], { POSTERN_HOME: home });
}

/** Which of the cluster's proxies has the id `proxyId`. */
async function proxyIndexOf(
  cluster: { admin: (...args: string[]) => Promise<{ stdout: string }>; proxies: PosternProcess[] },
  proxyId: string,
): Promise<number> {
  const listed = JSON.parse((await cluster.admin("proxies", "ls", "--format", "json")).stdout) as {
    id: string;
    publicAddr: string;
  }[];
  const addr = listed.find((p) => p.id === proxyId)?.publicAddr;
  const index = cluster.proxies.findIndex((p) => addr === `127.0.0.1:${p.webPort}`);
  assert.ok(index >= 0, `proxy ${proxyId} (${addr}) is one of the cluster's`);
  return index;
}
