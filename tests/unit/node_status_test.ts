import assert from "node:assert/strict";
import { NodeStatus, probeSshBanner, unreachableReason } from "../../lib/proxy/node_status.ts";
import { AccessDenied, Unavailable } from "../../lib/errors.ts";

Deno.test("NodeStatus probes nodes it has not checked lately, in the background, once at a time each", async () => {
  let now = 1_000;
  const probed: string[] = [];
  const status = new NodeStatus({
    maxAgeMs: 60_000,
    now: () => now,
    probe: (addr) => {
      probed.push(addr);
      return Promise.resolve(addr.endsWith(":22") ? null : "connection refused");
    },
  });
  const nodes = [{ name: "saturn", addr: "10.0.0.1:22" }, { name: "mars", addr: "10.0.0.2:2222" }];
  const first = status.of(nodes);
  assert.deepEqual(first.get("saturn"), { state: "unknown", checked: null });
  status.of(nodes); // asked again before the probes ended: not probed twice
  await status.settled();
  assert.deepEqual(probed, ["10.0.0.1:22", "10.0.0.2:2222"]);
  assert.deepEqual(status.of(nodes).get("saturn"), {
    state: "online",
    checked: 1_000,
    reason: undefined,
  });
  assert.deepEqual(status.of(nodes).get("mars"), {
    state: "offline",
    checked: 1_000,
    reason: "connection refused",
  });
  await status.settled();
  assert.equal(probed.length, 2, "checked lately: no new probe");

  // A login through the proxy counts as a check; an address change forgets the old state.
  now += 61_000;
  status.record("mars", "10.0.0.2:2222", null);
  status.of([{ name: "mars", addr: "10.0.0.2:2222" }]);
  await status.settled();
  assert.equal(probed.length, 2);
  assert.equal(status.of([{ name: "mars", addr: "10.0.0.9:22" }]).get("mars")?.state, "unknown");
  await status.settled();
  assert.deepEqual(probed.at(-1), "10.0.0.9:22");
  // Without probe (API clients other than the nodes page), only what is known.
  now += 61_000;
  status.of(nodes, { probe: false });
  await status.settled();
  assert.equal(probed.length, 3);
});

Deno.test("probeSshBanner() tells an sshd from a closed port and from another server", async () => {
  const serve = (banner: string) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    (async () => {
      for await (const conn of listener) {
        await conn.write(new TextEncoder().encode(banner)).catch(() => {});
        await conn.read(new Uint8Array(64)).catch(() => null);
        conn.close();
      }
    })();
    return listener;
  };
  using ssh = serve("SSH-2.0-OpenSSH_9.9\r\n");
  using http = serve("HTTP/1.1 400 Bad Request\r\n\r\n");
  assert.equal(await probeSshBanner(`127.0.0.1:${ssh.addr.port}`, 5_000), null);
  assert.match(
    (await probeSshBanner(`127.0.0.1:${http.addr.port}`, 5_000))!,
    /other than an SSH server/,
  );
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  assert.equal(await probeSshBanner(`127.0.0.1:${port}`, 5_000), "connection refused");
});

Deno.test("unreachableReason() says offline only when the node could not be reached", () => {
  const cases: [unknown, string | null | undefined][] = [
    [
      new Unavailable("Cannot connect to saturn (10.0.0.1:22): connection refused"),
      "connection refused",
    ],
    [
      new Unavailable("Cannot connect to saturn (10.0.0.1:22): timed out after 10000 ms"),
      "timed out after 10000 ms",
    ],
    [new Unavailable("Cannot connect to saturn (10.0.0.1:22): cancelled"), undefined],
    [
      new AccessDenied(
        'Cannot log in to saturn as "root": the node did not accept the certificate',
      ),
      null,
    ],
    [new Unavailable("Cannot log in to saturn: signing failed"), null],
  ];
  for (const [error, reason] of cases) {
    assert.equal(unreachableReason(error), reason, String(error));
  }
});
