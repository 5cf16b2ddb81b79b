import assert from "node:assert/strict";
import { OutputBuffers } from "../../lib/net/output_buffers.ts";
import { sharedBuffers } from "../../lib/net/buffer_pool.ts";

const bytes = (value: string) => new TextEncoder().encode(value);
const text = (value: Uint8Array) => new TextDecoder().decode(value);

Deno.test("OutputBuffers batches what was appended, and later appends fill the other buffer", () => {
  const output = new OutputBuffers();
  output.append(bytes("one "));
  output.append(bytes("two"));
  assert.equal(output.length, 7);
  const first = output.takeBatch();
  assert.equal(output.length, 0);
  // While the first batch is being sent, new bytes must not touch it.
  output.append(bytes("three"));
  assert.equal(text(first), "one two");
  assert.equal(text(output.takeBatch()), "three");
  output.release();
});

Deno.test("OutputBuffers grows past its first buffer and keeps the order", () => {
  const output = new OutputBuffers();
  let expected = "";
  for (let i = 0; i < 20_000; i++) {
    const line = `line ${i}\n`;
    output.append(bytes(line));
    expected += line;
  }
  assert.ok(output.length > 64 * 1024);
  assert.equal(text(output.takeBatch()), expected);
  output.release();
});

Deno.test("OutputBuffers lets bytes be written in place with room() and commit()", () => {
  const output = new OutputBuffers();
  output.append(bytes("["));
  const room = output.room(30);
  const { written } = new TextEncoder().encodeInto("encoded in place", room);
  output.commit(written);
  output.append(bytes("]"));
  assert.equal(text(output.takeBatch()), "[encoded in place]");
  output.release();
});

Deno.test("OutputBuffers gives its buffers back to the pool once nothing waits, and drops on demand", () => {
  sharedBuffers.clear();
  const output = new OutputBuffers();
  output.append(bytes("kept"));
  output.release();
  assert.equal(sharedBuffers.freeBytes, 0, "released while bytes were waiting");
  output.drop();
  assert.equal(output.length, 0);
  output.release();
  assert.equal(sharedBuffers.freeBytes, 64 * 1024);
  sharedBuffers.clear();
});
