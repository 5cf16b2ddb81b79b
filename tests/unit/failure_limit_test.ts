import assert from "node:assert/strict";
import { FailureLimiter } from "../../lib/proxy/web/api/failure_limit.ts";

Deno.test("FailureLimiter refuses an address at the limit until its window ends", () => {
  let now = 1_000_000;
  const limiter = new FailureLimiter({ limit: 3, windowMs: 60_000, now: () => now });
  assert.equal(limiter.retryAfterS("10.0.0.1"), 0);
  assert.deepEqual([1, 2, 3].map(() => limiter.fail("10.0.0.1")), [false, false, true]);
  assert.equal(limiter.retryAfterS("10.0.0.1"), 60);
  assert.equal(limiter.retryAfterS("10.0.0.2"), 0, "other addresses are not affected");
  now += 59_500;
  assert.equal(limiter.retryAfterS("10.0.0.1"), 1);
  now += 1_000;
  assert.equal(limiter.retryAfterS("10.0.0.1"), 0, "a new window starts afresh");
  assert.equal(limiter.fail("10.0.0.1"), false);
});

Deno.test("FailureLimiter counts checks still running, so a burst gets at most the limit", () => {
  const limiter = new FailureLimiter({ limit: 3, windowMs: 60_000, now: () => 1_000_000 });
  const started = Array.from({ length: 10 }, () => limiter.begin("10.0.0.1"));
  assert.deepEqual(started, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
  // One succeeds: its place is free again.
  limiter.end("10.0.0.1");
  assert.equal(limiter.begin("10.0.0.1"), 0);
  for (let i = 0; i < 3; i++) {
    limiter.fail("10.0.0.1");
    limiter.end("10.0.0.1");
  }
  assert.equal(limiter.begin("10.0.0.1"), 60, "three failures fill the window");
});
