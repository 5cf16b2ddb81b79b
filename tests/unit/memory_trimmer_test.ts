import assert from "node:assert/strict";
import {
  GARBAGE_PER_ENDED_CONNECTION,
  giveMemoryBack,
  MemoryTrimmer,
  MIN_GARBAGE_BYTES,
  releaseOnTrim,
} from "../../lib/memory/trimmer.ts";
import { collectGarbage } from "../../lib/memory/collect_garbage.ts";
import { glibcMallocTrim } from "../../lib/memory/malloc_trim.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A trimmer whose trims are recorded; `collects` says what they answer. */
function recordingTrimmer(timing: { delayMs: number; minIntervalMs: number; maxDelayMs?: number }) {
  const seen: number[] = [];
  const state = { collects: true };
  const trimmer = new MemoryTrimmer({
    ...timing,
    trim: (garbage) => {
      seen.push(garbage);
      return state.collects;
    },
  });
  return { trimmer, seen, state };
}

Deno.test("MemoryTrimmer trims once after a burst of ended connections, then not before its interval", async () => {
  const { trimmer, seen } = recordingTrimmer({ delayMs: 100, minIntervalMs: 60_000 });
  for (let i = 0; i < 5; i++) {
    trimmer.connectionEnded();
    await pause(20);
  }
  assert.equal(seen.length, 0, "not while connections are still ending");
  await pause(400);
  assert.equal(seen.length, 1, "once, after the burst");
  trimmer.connectionEnded();
  await pause(300);
  assert.equal(seen.length, 1, "the next one waits for the interval");
  trimmer.stop();
});

Deno.test("MemoryTrimmer trims by maxDelayMs while ends keep coming", async () => {
  const { trimmer, seen } = recordingTrimmer({ delayMs: 100, minIntervalMs: 0, maxDelayMs: 250 });
  for (let i = 0; i < 20; i++) {
    trimmer.connectionEnded();
    await pause(40);
  }
  assert.ok(seen.length >= 2, `trimmed ${seen.length} times in 800 ms of ends`);
  trimmer.stop();
});

Deno.test("MemoryTrimmer passes on the garbage of every end since the last collection", async () => {
  const { trimmer, seen, state } = recordingTrimmer({ delayMs: 10, minIntervalMs: 0 });
  state.collects = false;
  trimmer.connectionEnded();
  trimmer.connectionEnded();
  await pause(100);
  state.collects = true;
  trimmer.connectionEnded();
  await pause(100);
  trimmer.startUpDone();
  await pause(100);
  const each = GARBAGE_PER_ENDED_CONNECTION;
  assert.deepEqual(
    seen,
    [2 * each, 3 * each, MIN_GARBAGE_BYTES],
    "the estimate adds up until a collection",
  );
  trimmer.stop();
});

Deno.test("collectGarbage() frees unreachable objects without any allocation to trigger it", async () => {
  const ref = (() => new WeakRef({ payload: new Uint8Array(1 << 20) }))();
  // A WeakRef's target is kept until the current job ends.
  await pause(0);
  collectGarbage();
  assert.ok(ref.deref() === undefined, "the unreachable object is still there");
});

Deno.test("collectGarbage() frees the native memory under dead ArrayBuffers at once", async () => {
  let buffers: Uint8Array[] = Array.from({ length: 2000 }, () => new Uint8Array(16 * 1024));
  const before = Deno.memoryUsage().external;
  buffers = [];
  await pause(0);
  collectGarbage();
  const freed = before - Deno.memoryUsage().external;
  assert.ok(freed >= 30 * 1024 * 1024, `freed ${freed} of 32 MiB, with ${buffers.length} left`);
});

Deno.test("giveMemoryBack() collects only when the estimated garbage is worth it", async () => {
  collectGarbage();
  const ref = (() => new WeakRef({ payload: new Uint8Array(1 << 20) }))();
  await pause(0);
  assert.equal(giveMemoryBack(GARBAGE_PER_ENDED_CONNECTION), false, "one ended connection");
  await pause(0);
  assert.ok(ref.deref() !== undefined, "not collected");
  await pause(0);
  assert.equal(giveMemoryBack(MIN_GARBAGE_BYTES), true);
  assert.ok(ref.deref() === undefined, "the garbage is gone");
});

Deno.test("giveMemoryBack() collects when the heap grew enough, with no connection ended", async () => {
  collectGarbage();
  const ref = (() => new WeakRef({ payload: new Uint8Array(8 << 20) }))();
  await pause(0);
  assert.equal(giveMemoryBack(0), true, "8 MiB of garbage");
  assert.ok(ref.deref() === undefined, "the garbage is gone");
});

Deno.test("the tests run with V8's gc exposed, as postern runs", () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, "function");
});

Deno.test("glibcMallocTrim() runs (or does nothing) without throwing", () => {
  glibcMallocTrim();
  glibcMallocTrim();
});

Deno.test("giveMemoryBack() asks every registered cache to let go, until it stops asking", () => {
  let asked = 0;
  const stop = releaseOnTrim(() => asked++);
  giveMemoryBack(0);
  assert.equal(asked, 1);
  stop();
  giveMemoryBack(0);
  assert.equal(asked, 1, "asked after it stopped");
});
