import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { BacklogWaiters } from "../../lib/session/backlog.ts";

/** A Writable whose writes complete only when the test says so, like a channel out of window. */
function slowSink() {
  const pending: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark: 1 << 20,
    write(_chunk, _encoding, callback) {
      pending.push(callback);
    },
  });
  const waiters = new BacklogWaiters(() => stream.writableLength);
  return {
    stream,
    waiters,
    write: (bytes: number) => stream.write(new Uint8Array(bytes), waiters.shrank),
    /** Lets the oldest write complete, and its callback run. */
    async send() {
      pending.shift()!();
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

Deno.test("BacklogWaiters calls a waiter at once when the backlog is already below its mark", () => {
  const { waiters } = slowSink();
  let called = 0;
  waiters.wait(100, () => called++);
  assert.equal(called, 1);
});

Deno.test("BacklogWaiters calls a waiter once, when a completed write takes the backlog below its mark", async () => {
  const sink = slowSink();
  for (let i = 0; i < 4; i++) sink.write(100);
  // Node hands a Writable one chunk at a time: the rest wait in its buffer.
  await new Promise((resolve) => setTimeout(resolve, 0));
  let called = 0;
  sink.waiters.wait(250, () => called++);
  assert.equal(called, 0, "400 bytes queued");
  await sink.send();
  assert.equal(called, 0, "300 bytes queued");
  await sink.send();
  assert.equal(called, 1, "200 bytes queued");
  await sink.send();
  await sink.send();
  assert.equal(called, 1, "only once");
});

Deno.test("BacklogWaiters does not call a cancelled waiter", async () => {
  const sink = slowSink();
  sink.write(100);
  sink.write(100);
  await new Promise((resolve) => setTimeout(resolve, 0));
  let called = 0;
  const cancel = sink.waiters.wait(150, () => called++);
  cancel();
  await sink.send();
  await sink.send();
  assert.equal(called, 0);
});
