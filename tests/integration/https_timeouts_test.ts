/**
 * The HTTPS port's timeouts, from the outside: a client that never sends a
 * byte, a TLS handshake that stops halfway, a half-sent request head, an idle
 * HTTP/1.1 keep-alive connection and an idle HTTP/2 connection are all closed
 * within their configured times, while a real client still gets answers.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startPosternProcess } from "../helpers/postern.ts";
import { startCluster } from "../helpers/cluster.ts";

const HANDSHAKE_MS = 2_000;
const HEADER_MS = 2_000;
const IDLE_MS = 3_000;
/** Scheduling on a busy 2-core test machine; not part of the bound under test. */
const SLACK_MS = 3_000;

/** Reads until the server closes; returns what it sent and how long that took. */
async function readUntilClosed(conn: Deno.Conn): Promise<{ text: string; ms: number }> {
  const started = performance.now();
  const buffer = new Uint8Array(16384);
  let text = "";
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } catch {
    // A reset is a close too.
  }
  try {
    conn.close();
  } catch { /* closed already */ }
  return { text, ms: performance.now() - started };
}

Deno.test("HTTPS connections are closed after a half-sent head and when idle", async (t) => {
  await using postern = await startPosternProcess({
    extraConfig: [
      `  tls_handshake_timeout: ${HANDSHAKE_MS}ms`,
      `  request_header_timeout: ${HEADER_MS}ms`,
      `  keep_alive_timeout: ${IDLE_MS}ms`,
    ].join("\n"),
  });
  const caCerts = [await Deno.readTextFile(join(postern.dataDir, "tls", "cert.pem"))];
  const connect = async (alpn: string) => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: postern.webPort,
      caCerts,
      alpnProtocols: [alpn],
    });
    assert.equal((await conn.handshake()).alpnProtocol, alpn);
    return conn;
  };
  const encode = (text: string) => new TextEncoder().encode(text);

  await t.step("clients that never send a byte, among them one that does", async () => {
    const silent = await Promise.all(
      Array.from(
        { length: 200 },
        () => Deno.connect({ hostname: "127.0.0.1", port: postern.webPort }),
      ),
    );
    const closing = silent.map(readUntilClosed);
    const response = await fetch(`https://127.0.0.1:${postern.webPort}/healthz`, {
      client: Deno.createHttpClient({ caCerts }),
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    for (const { ms } of await Promise.all(closing)) {
      assert.ok(ms < HANDSHAKE_MS + SLACK_MS, `closed only after ${ms} ms`);
    }
  });

  await t.step("a TLS handshake that stops halfway", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: postern.webPort });
    // The first bytes of a TLS ClientHello record, and no more.
    await conn.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    const { ms } = await readUntilClosed(conn);
    assert.ok(ms < HANDSHAKE_MS + SLACK_MS, `closed only after ${ms} ms`);
  });

  await t.step("plain HTTP is told to use HTTPS", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: postern.webPort });
    await conn.write(encode("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const { text } = await readUntilClosed(conn);
    assert.match(text, /^HTTP\/1\.1 400 Bad Request[\s\S]*use https:\/\//);
  });

  await t.step("a request head never finished", async () => {
    const conn = await connect("http/1.1");
    await conn.write(encode("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    const { text, ms } = await readUntilClosed(conn);
    assert.ok(ms < HEADER_MS + SLACK_MS, `closed only after ${ms} ms`);
    assert.doesNotMatch(text, /200 OK/);
  });

  await t.step("an idle HTTP/1.1 keep-alive connection", async () => {
    const conn = await connect("http/1.1");
    await conn.write(encode("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const { text, ms } = await readUntilClosed(conn);
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    assert.ok(ms < IDLE_MS + SLACK_MS, `closed only after ${ms} ms`);
    assert.ok(ms > IDLE_MS / 2, `closed after ${ms} ms, before it was idle for long`);
  });

  await t.step("an idle HTTP/2 connection", async () => {
    const conn = await connect("h2");
    // The client preface and an empty SETTINGS frame; then nothing.
    await conn.write(encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
    await conn.write(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0]));
    const { ms } = await readUntilClosed(conn);
    assert.ok(ms < HEADER_MS + SLACK_MS, `closed only after ${ms} ms`);
  });

  assert.doesNotMatch(postern.logs(), /internal error|uncaught|unhandled/);
});

Deno.test("a web terminal's WebSocket outlives the keep-alive timeout", async () => {
  await using cluster = await startCluster({ extraConfig: `  keep_alive_timeout: ${IDLE_MS}ms` });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const web = await cluster.webLogin(alice);
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: cluster.postern.webPort,
    caCerts: [await Deno.readTextFile(join(cluster.postern.dataDir, "tls", "cert.pem"))],
    alpnProtocols: ["http/1.1"],
  });
  const host = `127.0.0.1:${cluster.postern.webPort}`;
  const query = `node=saturn&login=root&csrf=${encodeURIComponent(web.csrf)}`;
  await conn.write(new TextEncoder().encode(
    `GET /v1/webapi/sites/postern/connect?${query} HTTP/1.1\r\n` +
      `Host: ${host}\r\nOrigin: https://${host}\r\nCookie: ${web.cookie}\r\n` +
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  ));
  const closed = readUntilClosed(conn);
  const outcome = await Promise.race([
    closed.then(({ text }) => `closed: ${text.slice(0, 200)}`),
    new Promise((resolve) => setTimeout(() => resolve("open"), IDLE_MS + SLACK_MS)),
  ]);
  assert.equal(outcome, "open");
  conn.close();
  await closed;
});
