import assert from "node:assert/strict";
import { glibcMallocTrim, MemoryTrimmer } from "../../lib/net/malloc_trim.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("MemoryTrimmer trims once after a burst of ended connections, then not before its interval", async () => {
  let trims = 0;
  const trimmer = new MemoryTrimmer({ trim: () => trims++, delayMs: 100, minIntervalMs: 60_000 });
  for (let i = 0; i < 5; i++) {
    trimmer.connectionEnded();
    await pause(20);
  }
  assert.equal(trims, 0, "not while connections are still ending");
  await pause(400);
  assert.equal(trims, 1, "once, after the burst");
  trimmer.connectionEnded();
  await pause(300);
  assert.equal(trims, 1, "the next one waits for the interval");
  trimmer.stop();
});

Deno.test("glibcMallocTrim() runs (or does nothing) without throwing", () => {
  glibcMallocTrim();
  glibcMallocTrim();
});
