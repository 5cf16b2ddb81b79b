import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { joinChannels } from "../../lib/net/join_channels.ts";

/** A channel end: what is pushed comes out of it; what is written to it is kept. */
function channel() {
  const written: string[] = [];
  const end = new Duplex({
    read() {},
    write(chunk, _encoding, done) {
      written.push(String(chunk));
      done();
    },
  });
  return { end, written };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

Deno.test("joinChannels() shows each chunk to inspect, and a pending inspection holds its direction", async () => {
  const a = channel();
  const b = channel();
  const seen: string[] = [];
  let release = () => {};
  const joined = joinChannels(a.end, b.end, {
    inspect(chunk, direction) {
      seen.push(`${direction}:${new TextDecoder().decode(chunk)}`);
      if (direction === "forward" && seen.length === 1) {
        return new Promise<void>((resolve) => (release = resolve));
      }
    },
  });
  a.end.push("one");
  a.end.push("two");
  b.end.push("back");
  await tick();
  assert.deepEqual(b.written, ["one"], "the held direction passes nothing more");
  assert.deepEqual(a.written, ["back"], "the other direction flows");
  release();
  await tick();
  assert.deepEqual(b.written, ["one", "two"]);
  assert.deepEqual(seen, ["forward:one", "back:back", "forward:two"]);
  a.end.destroy();
  b.end.destroy();
  const result = await joined;
  assert.equal(result.forward, 6);
  assert.equal(result.back, 4);
  assert.equal(result.error, undefined);
});

Deno.test("joinChannels() closes both channels when inspect throws, without passing the chunk", async () => {
  const a = channel();
  const b = channel();
  const refused = new Error("cannot audit this");
  const joined = joinChannels(a.end, b.end, {
    inspect(chunk) {
      if (new TextDecoder().decode(chunk) === "bad") throw refused;
    },
  });
  a.end.push("good");
  await tick();
  a.end.push("bad");
  const result = await joined;
  assert.equal(result.error, refused);
  assert.deepEqual(b.written, ["good"]);
  assert.ok(a.end.destroyed && b.end.destroyed);
});
