import assert from "node:assert/strict";
import { giveMemoryBack, MemoryTrimmer } from "../../lib/memory/trimmer.ts";
import { collectGarbage, collectGarbageIfWorthIt } from "../../lib/memory/collect_garbage.ts";
import { glibcMallocTrim } from "../../lib/memory/malloc_trim.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("MemoryTrimmer trims once after a burst of ended connections, then not before its interval", async () => {
  let trims = 0;
  const trimmer = new MemoryTrimmer({
    trim: () => {
      trims++;
      return true;
    },
    delayMs: 100,
    minIntervalMs: 60_000,
  });
  for (let i = 0; i < 5; i++) {
    trimmer.memoryFreed();
    await pause(20);
  }
  assert.equal(trims, 0, "not while connections are still ending");
  await pause(400);
  assert.equal(trims, 1, "once, after the burst");
  trimmer.memoryFreed();
  await pause(300);
  assert.equal(trims, 1, "the next one waits for the interval");
  trimmer.stop();
});

Deno.test("collectGarbage() frees unreachable objects without any allocation to trigger it", async () => {
  const ref = (() => new WeakRef({ payload: new Uint8Array(1 << 20) }))();
  // A WeakRef's target is kept until the current job ends.
  await pause(0);
  collectGarbage();
  assert.ok(ref.deref() === undefined, "the unreachable object is still there");
});

Deno.test("collectGarbageIfWorthIt() collects once the heap has grown by the given bytes", async () => {
  collectGarbage();
  assert.equal(collectGarbageIfWorthIt(0, 4 << 20), false, "nothing allocated since");
  const ref = (() => new WeakRef({ payload: new Uint8Array(8 << 20) }))();
  await pause(0);
  assert.equal(collectGarbageIfWorthIt(0, 4 << 20), true, "8 MiB of garbage");
  assert.ok(ref.deref() === undefined, "the garbage is gone");
});

Deno.test("collectGarbageIfWorthIt() collects what objects live at the last collection left, with no growth", async () => {
  const live: { payload?: Uint8Array } = { payload: new Uint8Array(8 << 20) };
  const ref = new WeakRef(live.payload!);
  collectGarbage();
  delete live.payload;
  await pause(0);
  assert.equal(collectGarbageIfWorthIt(0, 4 << 20), false, "the heap did not grow");
  assert.ok(ref.deref() !== undefined, "not collected");
  // deref() keeps its target until the current job ends.
  await pause(0);
  assert.equal(collectGarbageIfWorthIt(200, 4 << 20), true, "200 connections ended since");
  assert.ok(ref.deref() === undefined, "the garbage is gone");
});

Deno.test("MemoryTrimmer passes on the connections ended since the last collection", async () => {
  const seen: number[] = [];
  let collect = false;
  const trimmer = new MemoryTrimmer({
    trim: (ended) => {
      seen.push(ended);
      return collect;
    },
    delayMs: 10,
    minIntervalMs: 0,
  });
  trimmer.memoryFreed();
  trimmer.memoryFreed();
  await pause(100);
  collect = true;
  trimmer.memoryFreed();
  await pause(100);
  trimmer.memoryFreed();
  await pause(100);
  assert.deepEqual(seen, [2, 3, 1], "the count goes on until a collection");
  trimmer.stop();
});

Deno.test("the tests run with V8's gc exposed, as postern runs", () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, "function");
});

Deno.test("glibcMallocTrim() and giveMemoryBack() run (or do nothing) without throwing", () => {
  glibcMallocTrim();
  glibcMallocTrim();
  giveMemoryBack(0);
});
