import assert from "node:assert/strict";
import { BufferPool, QUIET_READ_SIZE, sharedBuffers } from "../../lib/net/buffer_pool.ts";
import { ReadBuffers } from "../../lib/net/read_buffers.ts";

const KIB = 1024;

Deno.test("BufferPool hands back a given buffer and keeps no more than its limit", () => {
  const pool = new BufferPool(3 * 64 * KIB);
  const a = pool.take(64 * KIB);
  const b = pool.take(64 * KIB);
  assert.notEqual(a, b);
  pool.give(a);
  assert.equal(pool.freeBytes, 64 * KIB);
  assert.equal(pool.take(64 * KIB), a, "the free buffer is reused");
  assert.notEqual(pool.take(128 * KIB), b, "sizes do not mix");
  pool.give(a);
  pool.give(b);
  pool.give(pool.take(128 * KIB));
  assert.equal(pool.freeBytes, 2 * 64 * KIB, "a buffer past the limit is dropped");
});

Deno.test("BufferPool.clear() lets go of every free buffer", () => {
  const pool = new BufferPool(3 * 64 * KIB);
  const a = pool.take(64 * KIB);
  pool.give(a);
  pool.clear();
  assert.equal(pool.freeBytes, 0);
  assert.notEqual(pool.take(64 * KIB), a, "a new buffer");
});

Deno.test("ReadBuffers reads quietly into a small buffer and copies the chunk", () => {
  const reads = new ReadBuffers(64 * KIB, 256 * KIB, true);
  const buffer = reads.next();
  assert.equal(buffer.length, QUIET_READ_SIZE);
  buffer.set([1, 2, 3]);
  const { chunk } = reads.take(3);
  assert.deepEqual([...chunk], [1, 2, 3]);
  assert.equal(reads.bulk, false);
  reads.next().set([9, 9, 9]);
  assert.deepEqual([...chunk], [1, 2, 3], "a quiet chunk is a copy");
  assert.equal(reads.next(), buffer, "the quiet buffer is reused");
});

Deno.test("ReadBuffers switches to a pooled slab on a full read and gives it back once quiet and released", () => {
  const reads = new ReadBuffers(64 * KIB, 256 * KIB, true);
  reads.next();
  reads.take(QUIET_READ_SIZE);
  assert.equal(reads.bulk, true, "a full quiet read means bulk data");
  const region = reads.next();
  assert.equal(region.length, 64 * KIB);
  region.fill(7, 0, 100);
  const first = reads.take(64 * KIB);
  assert.equal(first.chunk.buffer, region.buffer, "a bulk chunk is a view of the slab");
  reads.next();
  const short = reads.take(100);
  assert.equal(reads.bulk, false, "a short read means quiet again");
  assert.equal(reads.next().length, QUIET_READ_SIZE);
  const before = sharedBuffers.freeBytes;
  first.release();
  assert.equal(sharedBuffers.freeBytes, before, "not back while a chunk is held");
  short.release();
  short.release();
  assert.equal(sharedBuffers.freeBytes, before + 256 * KIB, "back once, when every chunk is");
  assert.equal(sharedBuffers.take(256 * KIB).buffer, region.buffer);
});

Deno.test("ReadBuffers without reuse never gives a slab back", () => {
  const reads = new ReadBuffers(64 * KIB, 256 * KIB, false);
  reads.next();
  reads.take(QUIET_READ_SIZE);
  const before = sharedBuffers.freeBytes;
  reads.next();
  const { release } = reads.take(10);
  release();
  reads.close();
  assert.equal(sharedBuffers.freeBytes, before, "the consumer may still hold chunks");
  assert.equal(reads.bulk, false);
});
