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
