import assert from "node:assert/strict";
import { AcceptHealth } from "../../lib/net/accept.ts";

Deno.test("AcceptHealth reports a listener whose last accept failed recently", () => {
  let now = 1_000_000;
  const health = new AcceptHealth("SSH", () => now);
  assert.equal(health.notAcceptingReason(), null, "before any accept");

  health.failed(new Deno.errors.Busy("Too many open files (os error 24)"));
  assert.equal(
    health.notAcceptingReason(),
    "the SSH listener cannot accept connections: Too many open files (os error 24)",
  );
  now += 4_000;
  assert.notEqual(health.notAcceptingReason(), null, "4 s after the failure");

  now += 1;
  health.accepted();
  assert.equal(health.notAcceptingReason(), null, "an accept since");

  now += 1;
  health.failed(new Error("Too many open files (os error 24)"));
  now += 5_001;
  assert.equal(
    health.notAcceptingReason(),
    null,
    "no failure for 5 s: nothing waits in the backlog",
  );
  assert.equal(health.failures, 2);
});
