import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { denoConnDuplex } from "../../lib/net/conn_duplex.ts";
import { relay, type RelayResult } from "../../lib/net/relay.ts";
import { randomBytes, tcpPair } from "../helpers/loopback.ts";

/**
 * user ⇄ [channel: a Duplex over a conn] relay [conn] ⇄ node. The channel here is
 * a ConnDuplex rather than an ssh2 Channel; tests/integration/sshclient_test.ts
 * runs the relay on real ssh2 channels.
 */
async function relayed(options: Parameters<typeof relay>[2] = {}) {
  const [user, channelEnd] = await tcpPair();
  const [connEnd, node] = await tcpPair();
  const channel = denoConnDuplex(channelEnd, { allowHalfOpen: true });
  const done = relay(channel, connEnd, options);
  return { user, node, done };
}

async function sendAndEof(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    offset += await conn.write(data.subarray(offset, offset + 100_000));
  }
  await conn.closeWrite();
}

async function receiveAll(conn: Deno.Conn): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  const buf = new Uint8Array(64 * 1024);
  let bytes = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
    bytes += n;
  }
  return { sha256: hash.digest("hex"), bytes };
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

Deno.test("relay() carries 10 MB intact both ways and counts it", async () => {
  const counted = { up: 0, down: 0 };
  const { user, node, done } = await relayed({
    onBytes: (direction, n) => counted[direction] += n,
  });
  const up = randomBytes(10 * 1024 * 1024);
  const down = randomBytes(10 * 1024 * 1024);
  const [, , atNode, atUser, result] = await Promise.all([
    sendAndEof(user, up),
    sendAndEof(node, down),
    receiveAll(node),
    receiveAll(user),
    done,
  ]);
  assert.deepEqual(atNode, { sha256: sha256(up), bytes: up.length });
  assert.deepEqual(atUser, { sha256: sha256(down), bytes: down.length });
  assert.deepEqual(result, { bytesUp: up.length, bytesDown: down.length } as RelayResult);
  assert.deepEqual(counted, { up: up.length, down: down.length });
  user.close();
  node.close();
});

Deno.test("relay() half-closes: after the user's EOF the node can still answer", async () => {
  const { user, node, done } = await relayed();
  const encoder = new TextEncoder();
  await sendAndEof(user, encoder.encode("request"));
  const request = await receiveAll(node);
  assert.equal(request.bytes, 7);
  await sendAndEof(node, encoder.encode("late answer"));
  const buf = new Uint8Array(64);
  let text = "";
  for (let n = await user.read(buf); n !== null; n = await user.read(buf)) {
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.equal(text, "late answer");
  assert.deepEqual(await done, { bytesUp: 7, bytesDown: 11 });
  user.close();
  node.close();
});

Deno.test("relay() ends with an error, not a throw, when the node resets", async () => {
  const { user, node, done } = await relayed();
  await node.write(new TextEncoder().encode("hello"));
  // Unread data at close makes the kernel send RST to the relay's conn.
  await user.write(new Uint8Array(32 * 1024));
  await new Promise((resolve) => setTimeout(resolve, 50));
  node.close();
  // Keep the user talking so the relay writes into the reset conn.
  const talking = (async () => {
    try {
      for (let i = 0; i < 200; i++) {
        await user.write(new Uint8Array(1024));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    } catch {
      // The relay hung up on the user: expected.
    }
  })();
  const result = await done;
  assert.equal(result.bytesDown, 5);
  assert.ok(result.error, "a reset must be reported");
  await talking;
  user.close();
});

Deno.test("relay() stops at once when aborted", async () => {
  const controller = new AbortController();
  const { user, node, done } = await relayed({ signal: controller.signal });
  const reason = new Error("session terminated by admin");
  setTimeout(() => controller.abort(reason), 20);
  const started = Date.now();
  const result = await done;
  assert.ok(Date.now() - started < 1000);
  assert.equal(result.error, reason);
  // Both sides see the end.
  assert.equal(await node.read(new Uint8Array(8)), null);
  assert.equal(await user.read(new Uint8Array(8)), null);
  user.close();
  node.close();
});
