import assert from "node:assert/strict";
import { setListenerNoDelay } from "../../lib/proxy/web/tcp_nodelay.ts";
import { generateSelfSigned } from "../../lib/tls/certificate.ts";

/**
 * Median ms, over `runs` new connections, from the client's handshake until
 * it has both of two small writes the server makes after its own.
 */
async function secondWriteDelay(listener: Deno.TlsListener, ca: string, runs: number) {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const served = listener.accept().then(async (conn) => {
      await conn.handshake();
      await conn.write(new Uint8Array([1]));
      await conn.write(new Uint8Array([2]));
      await conn.read(new Uint8Array(1)).catch(() => null); // until the client is done
      conn.close();
    });
    // The client side without Nagle too, as fetch's is: only the server's is tested.
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    tcp.setNoDelay(true);
    const conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [ca] });
    await conn.handshake();
    const started = performance.now();
    let received = 0;
    const buffer = new Uint8Array(16);
    while (received < 2) received += (await conn.read(buffer)) ?? 2;
    times.push(performance.now() - started);
    conn.close();
    await served;
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

Deno.test("setListenerNoDelay() lets a TLS listener's connections send small writes without waiting for the client's delayed ACK", async () => {
  const { cert, key } = await generateSelfSigned({ dns: ["localhost"], ips: ["127.0.0.1"] });
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  assert.equal(setListenerNoDelay(listener.addr.port), 1);
  const median = await secondWriteDelay(listener, cert, 9);
  // With Nagle's algorithm on, the second write waits ~40 ms for the ACK.
  assert.ok(median < 20, `median ${median.toFixed(1)} ms`);
});

Deno.test("setListenerNoDelay() finds nothing on a port this process does not listen on", () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  assert.equal(setListenerNoDelay(port), 0);
});
