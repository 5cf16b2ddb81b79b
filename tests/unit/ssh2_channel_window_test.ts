/**
 * A server channel whose stdout and stderr both wait for window at once
 * delivers both in full and finishes (ssh2 1.17 resumed only stdout, and
 * could later resend a stale stdout chunk instead of stderr).
 */

import assert from "node:assert/strict";
import net from "node:net";
import ssh2 from "ssh2";
import { installChannelWindowFix } from "../../lib/net/ssh2_channel_window.ts";

const SIZE = 3 << 20;

function pattern(seed: number): Uint8Array {
  return new Uint8Array(SIZE).map((_, i) => (i * 31 + seed) % 251);
}

Deno.test("stdout and stderr both waiting for window are both delivered, in order", async () => {
  assert.equal(installChannelWindowFix(), true, "the fix applies to this ssh2");
  const out = pattern(1);
  const err = pattern(2);
  const hostKey = ssh2.utils.generateKeyPairSync("ed25519").private;
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    client.on("authentication", (ctx) => ctx.accept());
    client.on("session", (accept) => {
      accept().on("exec", (accept) => {
        const channel = accept();
        // Both queued before any window adjust: each waits for window at once.
        let pending = 2;
        const done = () => {
          if (--pending === 0) channel.exit(0), channel.end();
        };
        channel.write(out, done);
        channel.stderr.write(err, done);
      });
    });
    client.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = new ssh2.Client();
  try {
    const received = await new Promise<{ out: Uint8Array; err: Uint8Array; code: number }>(
      (resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the channel stalled")), 20_000);
        client.on("error", reject).on("ready", () => {
          client.exec("both", (error, stream) => {
            if (error) return reject(error);
            const outChunks: Uint8Array[] = [];
            const errChunks: Uint8Array[] = [];
            let code = -1;
            stream.on("data", (chunk: Uint8Array) => outChunks.push(chunk));
            stream.stderr.on("data", (chunk: Uint8Array) => errChunks.push(chunk));
            stream.on("exit", (c: number) => code = c);
            stream.on("close", () => {
              clearTimeout(timer);
              resolve({ out: concat(outChunks), err: concat(errChunks), code });
            });
          });
        }).connect({ host: "127.0.0.1", port, username: "u", password: "p" });
      },
    );
    assert.equal(received.code, 0);
    assert.equal(received.out.byteLength, SIZE);
    assert.equal(received.err.byteLength, SIZE);
    assert.deepEqual(received.out, out, "stdout arrives once, in order");
    assert.deepEqual(received.err, err, "stderr arrives once, in order");
  } finally {
    client.end();
    await new Promise((resolve) => server.close(resolve));
  }
});

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) all.set(chunk, at), at += chunk.byteLength;
  return all;
}
