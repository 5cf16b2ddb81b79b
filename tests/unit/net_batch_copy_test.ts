import assert from "node:assert/strict";
import { batchCopy, BatchQueue, Slabs } from "../../lib/net/batch_copy.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("batchCopy() keeps order and merges what was read during a write", async () => {
  const chunks = Array.from({ length: 50 }, (_, i) => bytes(i, i, i));
  let next = 0;
  const written: Uint8Array[] = [];
  await batchCopy(
    () => Promise.resolve(next < chunks.length ? [chunks[next++]] : null),
    async (batch) => {
      written.push(batch.slice());
      await new Promise((resolve) => setTimeout(resolve, 2));
    },
  );
  const all = new Uint8Array(written.reduce((n, b) => n + b.length, 0));
  written.reduce((offset, b) => (all.set(b, offset), offset + b.length), 0);
  assert.deepEqual(all, new Uint8Array(chunks.flatMap((c) => [...c])));
  assert.ok(written.length < chunks.length / 2, `${written.length} writes for 50 reads`);
});

Deno.test("batchCopy() reads no further ahead than maxQueued while the writer stalls", async () => {
  let reads = 0;
  const release = Promise.withResolvers<void>();
  const copying = batchCopy(
    () => {
      reads++;
      return Promise.resolve(reads <= 100 ? [new Uint8Array(1000)] : null);
    },
    () => release.promise,
    { maxQueued: 10_000 },
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  // One batch is with the writer; then up to 10,000 bytes queued, plus the read that crossed it.
  assert.ok(reads <= 1 + 11 + 1, `${reads} reads while the writer stalled`);
  release.resolve();
  await copying;
  assert.equal(reads, 101);
});

Deno.test("batchCopy() rejects with a read error and with a write error", async () => {
  await assert.rejects(
    batchCopy(() => Promise.reject(new Error("source gone")), () => Promise.resolve()),
    /source gone/,
  );
  await assert.rejects(
    batchCopy(() => Promise.resolve([bytes(1)]), () => Promise.reject(new Error("sink gone"))),
    /sink gone/,
  );
});

Deno.test("BatchQueue copies what is put, so the reader may reuse its buffer", async () => {
  const queue = new BatchQueue();
  const buffer = bytes(1, 2, 3);
  queue.put(buffer);
  buffer.set([4, 5, 6]);
  queue.put(buffer);
  assert.deepEqual(await queue.take(), bytes(1, 2, 3, 4, 5, 6));
  queue.put(bytes(7));
  queue.end();
  assert.deepEqual(await queue.take(), bytes(7));
  assert.equal(await queue.take(), null);
});

Deno.test("Slabs never hand out a region twice", () => {
  const slabs = new Slabs(4, 10);
  const regions: Uint8Array[] = [];
  for (let i = 0; i < 6; i++) {
    const region = slabs.next();
    region.fill(i + 1);
    regions.push(slabs.take(3));
  }
  regions.forEach((region, i) => assert.deepEqual(region, new Uint8Array(3).fill(i + 1)));
});
