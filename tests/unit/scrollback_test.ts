import assert from "node:assert/strict";
import { Scrollback } from "../../lib/session/scrollback.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

Deno.test("Scrollback keeps the newest bytes in order, across wrap-arounds", () => {
  const scrollback = new Scrollback(2048);
  let all = "";
  for (let i = 0; i < 500; i++) {
    const line = `line ${i}\r\n`;
    scrollback.append(bytes(line));
    all += line;
    assert.equal(text(scrollback.contents()), all.slice(-2048));
  }
  assert.equal(scrollback.length, 2048);
});

Deno.test("Scrollback keeps only the tail of a chunk larger than its capacity", () => {
  const scrollback = new Scrollback(1024);
  scrollback.append(bytes("before"));
  const large = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + i % 26)).join("");
  scrollback.append(bytes(large));
  assert.equal(text(scrollback.contents()), large.slice(-1024));
  scrollback.append(bytes("!"));
  assert.equal(text(scrollback.contents()), large.slice(-1023) + "!");
});

Deno.test("Scrollback copies what it keeps: a reused buffer does not change it", () => {
  const scrollback = new Scrollback(64);
  const buffer = bytes("first");
  scrollback.append(buffer);
  buffer.set(bytes("XXXXX"));
  assert.equal(text(scrollback.contents()), "first");
  scrollback.append(new Uint8Array(0));
  assert.equal(text(scrollback.contents()), "first");
  assert.equal(new Scrollback(64).contents().length, 0);
});
