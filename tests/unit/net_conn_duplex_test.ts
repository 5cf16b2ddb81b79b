import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { ConnDuplex, denoConnDuplex, mapConnError } from "../../lib/net/conn_duplex.ts";
import { randomBytes, tcpPair } from "../helpers/loopback.ts";

/** Writes `data` in uneven chunks, waiting for 'drain' when asked to, then ends. */
async function writeAll(stream: Duplex, data: Uint8Array): Promise<void> {
  let offset = 0;
  let step = 1;
  while (offset < data.length) {
    const size = Math.min(data.length - offset, (step++ % 7) * 9000 + 1);
    const ok = stream.write(Buffer.from(data.buffer, data.byteOffset + offset, size));
    offset += size;
    if (!ok) await once(stream, "drain");
  }
  stream.end();
}

/**
 * Reads until 'end' and returns the sha256 and length of what came. Uses 'data'
 * events: `for await` would destroy the duplex at the end, cutting its writes.
 */
async function hashAll(stream: Duplex): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  stream.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  stream.resume();
  await once(stream, "end");
  return { sha256: hash.digest("hex"), bytes };
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

Deno.test("denoConnDuplex() carries 20 MB intact both ways at once", async () => {
  const [a, b] = await tcpPair();
  const left = denoConnDuplex(a, { allowHalfOpen: true });
  const right = denoConnDuplex(b, { allowHalfOpen: true });
  const closed = Promise.all([once(left, "close"), once(right, "close")]);
  const up = randomBytes(20 * 1024 * 1024);
  const down = randomBytes(20 * 1024 * 1024);
  const [, , gotUp, gotDown] = await Promise.all([
    writeAll(left, up),
    writeAll(right, down),
    hashAll(right),
    hashAll(left),
  ]);
  assert.deepEqual(gotUp, { sha256: sha256(up), bytes: up.length });
  assert.deepEqual(gotDown, { sha256: sha256(down), bytes: down.length });
  assert.equal(left.bytesWritten, up.length);
  assert.equal(right.bytesRead, up.length);
  await closed;
});

Deno.test("denoConnDuplex() half-closes: the peer still writes after our end()", async () => {
  const [a, b] = await tcpPair();
  const left = denoConnDuplex(a, { allowHalfOpen: true });
  const right = denoConnDuplex(b, { allowHalfOpen: true });
  const closed = Promise.all([once(left, "close"), once(right, "close")]);
  const received: string[] = [];
  right.on("data", (chunk: Buffer) => received.push(chunk.toString()));
  left.end("question");
  await once(right, "end");
  assert.deepEqual(received, ["question"]);
  // Our side is finished but open for reading: the answer still arrives.
  let answer = "";
  left.on("data", (chunk: Buffer) => answer += chunk.toString());
  right.end("answer");
  await closed;
  assert.equal(answer, "answer");
});

Deno.test("denoConnDuplex() ends its side after the peer's EOF by default, like net.Socket", async () => {
  const [a, b] = await tcpPair();
  const duplex = denoConnDuplex(a);
  duplex.resume();
  await b.closeWrite();
  await once(duplex, "close");
  // The duplex half-closed in turn: the peer sees EOF.
  assert.equal(await b.read(new Uint8Array(16)), null);
  b.close();
});

Deno.test("denoConnDuplex() stops reading and writing while the reader stalls", async () => {
  const [a, b] = await tcpPair();
  const highWaterMark = 256 * 1024;
  const readSize = 64 * 1024;
  const writer = denoConnDuplex(a, { highWaterMark });
  const reader = denoConnDuplex(b, { highWaterMark, readSize });
  reader.pause();
  const chunk = Buffer.alloc(32 * 1024, 7);
  let written = 0;
  let maxWritable = 0;
  let maxReadable = 0;
  const deadline = Date.now() + 1500;
  // Write as a well-behaved producer does, giving up once the writer stays full.
  while (Date.now() < deadline) {
    const ok = writer.write(chunk);
    written += chunk.length;
    maxWritable = Math.max(maxWritable, writer.writableLength);
    maxReadable = Math.max(maxReadable, reader.readableLength);
    if (!ok) {
      const drained = await Promise.race([
        once(writer, "drain").then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200)),
      ]);
      if (!drained) break;
    }
  }
  maxReadable = Math.max(maxReadable, reader.readableLength);
  assert.ok(maxWritable <= highWaterMark + chunk.length, `writable grew to ${maxWritable}`);
  assert.ok(maxReadable <= highWaterMark + readSize, `readable grew to ${maxReadable}`);
  assert.ok(reader.bytesRead <= highWaterMark + readSize, `read ${reader.bytesRead} while stalled`);
  // Everything is bounded by the buffers, kernel socket buffers included.
  assert.ok(written < 64 * 1024 * 1024, `producer was never stopped (${written} bytes)`);

  const total = hashAll(reader);
  writer.end();
  assert.equal((await total).bytes, written);
});

Deno.test("denoConnDuplex() survives a peer reset without an uncaught error", async () => {
  // Deno reads a reset as EOF; writing on makes the reset visible (EPIPE). Without
  // an 'error' listener the duplex must just close; with one, it reports the code.
  for (const listen of [false, true]) {
    const [a, b] = await tcpPair();
    const duplex = denoConnDuplex(a, { allowHalfOpen: true });
    const errors: string[] = [];
    if (listen) duplex.on("error", (error: Error & { code?: string }) => errors.push(error.code!));
    // Not events.once(): it listens for 'error' too.
    const closed = new Promise((resolve) => duplex.on("close", resolve));
    duplex.resume();
    // Closing with unread data makes the kernel answer with RST.
    duplex.write(Buffer.alloc(64 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 50));
    b.close();
    const timer = setInterval(() => duplex.destroyed || duplex.write(Buffer.alloc(1024)), 5);
    await closed;
    clearInterval(timer);
    if (listen) {
      assert.equal(errors.length, 1);
      assert.match(errors[0], /^(ECONNRESET|EPIPE)$/);
    }
  }
});

Deno.test("denoConnDuplex() exposes the socket members ssh2 reads", async () => {
  const [a, b] = await tcpPair();
  const duplex = denoConnDuplex(a);
  assert.ok(duplex instanceof ConnDuplex);
  assert.equal(duplex.connecting, false);
  assert.equal(duplex.remoteAddress, "127.0.0.1");
  assert.equal(duplex.remoteFamily, "IPv4");
  assert.equal(duplex.remotePort, b.localAddr.port);
  assert.equal(duplex.localPort, a.localAddr.port);
  assert.equal(duplex.setNoDelay(true), duplex);
  assert.equal(duplex.setKeepAlive(true), duplex);
  duplex.destroy();
  await once(duplex, "close");
  assert.equal(await b.read(new Uint8Array(1)), null);
  b.close();
});

Deno.test("mapConnError() gives Node error codes", () => {
  const cases: [Error, string][] = [
    [new Deno.errors.ConnectionReset("x"), "ECONNRESET"],
    [new Deno.errors.BrokenPipe("x"), "EPIPE"],
    [new Deno.errors.ConnectionAborted("x"), "ECONNABORTED"],
    [new Deno.errors.ConnectionRefused("x"), "ECONNREFUSED"],
    [new Deno.errors.TimedOut("x"), "ETIMEDOUT"],
    [new Deno.errors.BadResource("x"), "ECONNABORTED"],
    [new Error("x"), "EIO"],
  ];
  for (const [error, code] of cases) {
    const mapped = mapConnError(error);
    assert.equal(mapped.code, code);
    assert.equal(mapped.cause, error);
  }
});
