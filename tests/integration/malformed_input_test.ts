/**
 * Malformed input from the outside gets a clear refusal, never a 500 or a
 * line logged as a bug: bad `%` escapes in path parameters and a bad chunk
 * size in a request body (curl and a raw TLS socket), a `null` WebSocket
 * control frame, and a second `exec` on one SSH session channel.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { startCluster } from "../helpers/cluster.ts";
import { Collected, connectProxy } from "../helpers/gateway.ts";

const BUG_LINES = /internal error|uncaught exception|unhandled rejection/;

async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const output = await new Deno.Command("curl", {
    args: ["-sS", "-k", "--path-as-is", "-o", "-", "-w", "\n%{http_code}", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

Deno.test("malformed input gets a 4xx or a clean refusal, and nothing is logged as a bug", async (t) => {
  await using cluster = await startCluster();
  const base = cluster.postern.url;

  await t.step("malformed % escapes in path parameters", async () => {
    for (
      const path of [
        "/v1/webapi/invites/%zz",
        "/v1/webapi/invites/%E0%A4%A",
        "/v1/webapi/sites/%/nodes",
        "/v1/webapi/sites/postern/nodes/%C3%28/setup-script",
      ]
    ) {
      const { status, body } = await curl([`${base}${path}`]);
      assert.equal(status, 400, `${path}: ${body}`);
      assert.equal(JSON.parse(body).error.kind, "bad_request", path);
    }
  });

  await t.step("an invalid chunk size in a request body", async () => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: cluster.postern.webPort,
      caCerts: [await Deno.readTextFile(join(cluster.postern.dataDir, "tls", "cert.pem"))],
      alpnProtocols: ["http/1.1"],
    });
    await conn.write(new TextEncoder().encode(
      "POST /v1/webapi/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "zz\r\n{}\r\n0\r\n\r\n",
    ));
    let text = "";
    const buffer = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } catch { /* reset */ }
    conn.close();
    // Either a 400, or the connection closed by the HTTP layer: never a 500.
    assert.doesNotMatch(text, /^HTTP\/1\.1 5/);
    if (text) assert.match(text, /^HTTP\/1\.1 400/);
  });

  const alice = await cluster.createUser("alice", { logins: ["root"] });

  await t.step("a null WebSocket control frame", async () => {
    const web = await cluster.webLogin(alice);
    const host = `127.0.0.1:${cluster.postern.webPort}`;
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: cluster.postern.webPort,
      caCerts: [await Deno.readTextFile(join(cluster.postern.dataDir, "tls", "cert.pem"))],
      alpnProtocols: ["http/1.1"],
    });
    const query = `node=saturn&login=root&csrf=${encodeURIComponent(web.csrf)}`;
    await conn.write(new TextEncoder().encode(
      `GET /v1/webapi/sites/postern/connect?${query} HTTP/1.1\r\n` +
        `Host: ${host}\r\nOrigin: https://${host}\r\nCookie: ${web.cookie}\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ));
    const received = new Collected();
    const reading = (async () => {
      const buffer = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) break;
          received.add(buffer.slice(0, n));
        }
      } catch { /* closed */ }
    })();
    // The terminal is ready once the node's first output has arrived.
    await received.waitFor(/HTTP\/1\.1 101[\s\S]*\r\n\r\n[\s\S]{8}/);
    // A masked text frame whose payload is "null".
    const mask = [1, 2, 3, 4];
    const payload = Buffer.from("null").map((byte, i) => byte ^ mask[i % 4]);
    await conn.write(new Uint8Array([0x81, 0x80 | payload.length, ...mask, ...payload]));
    await received.waitFor(/Control frames must be JSON objects/);
    conn.close();
    await reading;
  });

  await t.step("a second exec on one SSH session channel", async () => {
    const id = await cluster.login(alice);
    const proxy = await connectProxy(cluster, id, "root:saturn");
    try {
      const out = new Collected();
      const channel = await new Promise<import("ssh2").ClientChannel>((resolve, reject) =>
        proxy.exec(
          "echo first; sleep 2",
          (error, channel) => error ? reject(error) : resolve(channel),
        )
      );
      channel.on("data", out.add);
      channel.stderr.on("data", out.add);
      const closed = new Promise((resolve) => channel.on("close", resolve));
      // ssh2's client API opens a new channel per exec: send the request on this one directly.
      const refused = new Promise<boolean>((resolve) => {
        // deno-lint-ignore no-explicit-any
        const raw = channel as any;
        raw._callbacks.push((failed: boolean) => resolve(failed));
        // deno-lint-ignore no-explicit-any
        (proxy as any)._protocol.exec(raw.outgoing.id, "echo second", true);
      });
      assert.equal(await refused, true, "the second exec was accepted");
      await closed;
      assert.match(out.text, /first/);
      assert.doesNotMatch(out.text, /second/);
    } finally {
      proxy.end();
    }
  });

  assert.doesNotMatch(cluster.postern.logs(), BUG_LINES);
});
