import assert from "node:assert/strict";
import { BackgroundPace } from "../../lib/auth/background_pace.ts";

/** Busy-waits `ms`: a step of CPU-bound work. */
function work(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Working.
  }
}

Deno.test("BackgroundPace keeps steps to its share of the time, across callers", async () => {
  const pace = new BackgroundPace(0.25);
  const started = performance.now();
  let busy = 0;
  const caller = async () => {
    for (let i = 0; i < 5; i++) {
      await pace.step(() => {
        work(10);
        busy += 10;
      });
    }
  };
  await Promise.all([caller(), caller()]);
  const elapsed = performance.now() - started;
  assert.equal(busy, 100);
  // 100 ms of work at a quarter share: about 400 ms, the last rest not waited for.
  assert.ok(elapsed >= 360, `took ${elapsed.toFixed(0)} ms: the steps did not rest`);
});

Deno.test("BackgroundPace runs one step at a time and passes on results and errors", async () => {
  const pace = new BackgroundPace(1);
  let running = 0;
  let most = 0;
  const step = (n: number) =>
    pace.step(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return n;
    });
  assert.deepEqual(await Promise.all([step(1), step(2), step(3)]), [1, 2, 3]);
  assert.equal(most, 1);
  await assert.rejects(pace.step(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await step(4), 4, "a failed step does not stop the next");
});

Deno.test("BackgroundPace refuses a share outside (0, 1]", () => {
  assert.throws(() => new BackgroundPace(0), RangeError);
  assert.throws(() => new BackgroundPace(1.5), RangeError);
});

Deno.test("BackgroundPace takes only its busy share while the process works besides", async () => {
  // The process's CPU time as the pace reads it: growing with the clock while
  // other work keeps it busy, still while it is quiet (the test process's own
  // CPU time depends on the tests running beside this one).
  let busyBesides = true;
  let cpu = 0;
  let readAt = performance.now();
  const cpuMs = () => {
    const now = performance.now();
    if (busyBesides) cpu += now - readAt;
    readAt = now;
    return cpu;
  };
  const pace = new BackgroundPace(0.5, 0.1, cpuMs);
  await pace.step(() => work(5));
  await pace.step(() => work(5));
  assert.ok(pace.busy, "the work beside the steps went unnoticed");
  const started = performance.now();
  await pace.step(() => work(5));
  await pace.step(() => work(5));
  // After a 5 ms step at a tenth: a rest of 45 ms (at the full half, 5 ms).
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 45, `took ${elapsed.toFixed(0)} ms: the busy share was not used`);

  busyBesides = false;
  await pace.step(() => work(5));
  await pace.step(() => work(5));
  assert.ok(!pace.busy, "the process quietened but the pace still counts it as busy");
});

Deno.test("BackgroundPace refuses a busy share above its share", () => {
  assert.throws(() => new BackgroundPace(0.25, 0.5), RangeError);
});
