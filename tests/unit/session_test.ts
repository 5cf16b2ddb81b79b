import assert from "node:assert/strict";
import { join } from "node:path";
import {
  LiveSession,
  MAX_PARTY_BACKLOG,
  type PartySink,
  type SessionEvent,
  SessionHub,
} from "../../lib/session/hub.ts";
import { parseRecording } from "../../lib/session/asciicast.ts";
import {
  AsciicastRecorder,
  type RecorderOptions,
  RecordingLimitReached,
} from "../../lib/session/recorder.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);

/** A sink that remembers what reached it; `queued` plays a slow connection. */
class FakeSink implements PartySink {
  written: Uint8Array[] = [];
  events: SessionEvent[] = [];
  closed: string[] = [];
  queued = 0;
  write(data: Uint8Array): void {
    this.written.push(data);
  }
  backlog(): number {
    return this.queued;
  }
  notify(event: SessionEvent): void {
    this.events.push(event);
  }
  close(reason: string): void {
    this.closed.push(reason);
  }
  get text(): string {
    return this.written.map((chunk) => decoder.decode(chunk)).join("");
  }
}

function newSession() {
  const input: string[] = [];
  const resizes: [number, number][] = [];
  const session = new LiveSession(
    {
      id: "0b7c1f8e-4b7a-4c1e-9a53-5f2f0d3f6a10",
      user: "alice",
      login: "root",
      node: "saturn",
      kind: "web",
      started: new Date(),
      cols: 80,
      rows: 24,
    },
    {
      input: (data) => input.push(decoder.decode(data)),
      resize: (cols, rows) => resizes.push([cols, rows]),
    },
  );
  return { session, input, resizes };
}

function threeParties() {
  const { session, input, resizes } = newSession();
  const sinks = { owner: new FakeSink(), peer: new FakeSink(), observer: new FakeSink() };
  const owner = session.join("alice", "owner", sinks.owner);
  const peer = session.join("bob", "peer", sinks.peer);
  const observer = session.join("carol", "observer", sinks.observer);
  return { session, input, resizes, sinks, ids: { owner, peer, observer } };
}

Deno.test("LiveSession.output() reaches every party", () => {
  const { session, sinks } = threeParties();
  session.output(bytes("hello "));
  session.output(bytes("world"));
  for (const sink of Object.values(sinks)) assert.equal(sink.text, "hello world");
});

Deno.test("LiveSession.input() forwards owner and peer input and ignores observers", () => {
  const { session, input, ids } = threeParties();
  session.input(ids.owner.id, bytes("ls\r"));
  session.input(ids.observer.id, bytes("rm -rf /\r"));
  session.input(ids.peer.id, bytes("pwd\r"));
  session.input("not-a-party", bytes("whoami\r"));
  assert.deepEqual(input, ["ls\r", "pwd\r"]);
});

Deno.test("LiveSession.resize() obeys only the owner and tells every party", () => {
  const { session, resizes, sinks, ids } = threeParties();
  session.resize(ids.peer.id, 200, 50);
  session.resize(ids.observer.id, 10, 5);
  assert.deepEqual(resizes, []);
  session.resize(ids.owner.id, 120, 40);
  session.resize(ids.owner.id, 120, 40);
  assert.deepEqual(resizes, [[120, 40]], "a repeated size is not sent again");
  assert.deepEqual([session.cols, session.rows], [120, 40]);
  assert.equal(session.describe().cols, 120);
  for (const sink of Object.values(sinks)) {
    assert.deepEqual(sink.events.filter((e) => e.type === "resize"), [
      { type: "resize", cols: 120, rows: 40 },
    ]);
  }
});

Deno.test("LiveSession.output() disconnects a party that cannot keep up, with a reason", () => {
  const { session, sinks, ids } = threeParties();
  sinks.observer.queued = MAX_PARTY_BACKLOG + 1;
  sinks.owner.queued = MAX_PARTY_BACKLOG * 2; // the owner's backpressure is the transport's job
  sinks.peer.queued = MAX_PARTY_BACKLOG; // at the limit, not over it
  session.output(bytes("next screen"));
  assert.equal(sinks.observer.closed.length, 1);
  assert.match(sinks.observer.closed[0], /could not keep up/);
  assert.equal(sinks.observer.text, "", "nothing more is queued for it");
  assert.ok(!session.parties.has(ids.observer.id));
  assert.equal(sinks.owner.text, "next screen");
  assert.equal(sinks.peer.text, "next screen");
  assert.deepEqual(sinks.owner.closed, []);
  assert.ok(
    sinks.owner.events.some((e) => e.type === "party.leave" && e.user === "carol"),
    "the others are told",
  );
  assert.deepEqual(session.describe().parties.map((p) => p.user).sort(), ["alice", "bob"]);
});

Deno.test("LiveSession.join() replays recent output to the joiner", () => {
  const { session } = newSession();
  const owner = new FakeSink();
  session.join("alice", "owner", owner);
  session.output(bytes("$ echo hi\r\nhi\r\n"));
  const late = new FakeSink();
  session.join("bob", "observer", late);
  assert.equal(late.text, "$ echo hi\r\nhi\r\n");
  session.output(bytes("$ "));
  assert.equal(late.text, "$ echo hi\r\nhi\r\n$ ");
  assert.ok(owner.events.some((e) => e.type === "party.join" && e.user === "bob"));

  // The replay is bounded and keeps the newest output.
  const chunk = "x".repeat(1023) + "\n";
  for (let i = 0; i < 200; i++) session.output(bytes(chunk));
  session.output(bytes("LAST"));
  const later = new FakeSink();
  session.join("carol", "observer", later);
  assert.ok(later.text.length <= 64 * 1024 + chunk.length, `replayed ${later.text.length} bytes`);
  assert.ok(later.text.length >= 60 * 1024);
  assert.ok(later.text.endsWith("LAST"));
});

Deno.test("LiveSession.end() closes every party once and ignores later input", () => {
  const { session, input, sinks, ids } = threeParties();
  session.end(0);
  session.end(1);
  for (const sink of Object.values(sinks)) {
    assert.deepEqual(sink.closed, ["The session has ended."]);
    assert.deepEqual(sink.events.filter((e) => e.type === "end"), [{ type: "end", exitCode: 0 }]);
  }
  assert.ok(session.ended);
  assert.equal(session.parties.size, 0);
  session.input(ids.owner.id, bytes("exit\r"));
  assert.deepEqual(input, []);

  const late = new FakeSink();
  session.join("dave", "observer", late);
  assert.deepEqual(late.closed, ["The session has ended."], "a late joiner is not left hanging");
  assert.equal(session.parties.size, 0);
});

Deno.test("SessionHub lists, finds and ends live sessions", async () => {
  const hub = new SessionHub();
  const { session } = newSession();
  const sink = new FakeSink();
  hub.add(session);
  session.join("alice", "owner", sink);
  assert.equal(hub.get(session.info.id), session);
  const [listed] = hub.list();
  assert.equal(listed.node, "saturn");
  assert.deepEqual(listed.parties.map((p) => [p.user, p.mode]), [["alice", "owner"]]);
  await hub.endAll("postern is shutting down.");
  assert.deepEqual(hub.list(), []);
  assert.deepEqual(sink.closed, ["postern is shutting down."]);
  assert.equal(hub.get(session.info.id), undefined);
});

Deno.test("SessionHub.endAll() terminates each node side and waits until its end is recorded", async () => {
  const hub = new SessionHub();
  const { session } = newSession();
  const terminated: string[] = [];
  let recorded = false;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  hub.add(session, {
    terminate(reason) {
      terminated.push(reason);
      setTimeout(() => {
        recorded = true;
        resolve();
      }, 20);
    },
    done,
  });
  await hub.endAll("postern is shutting down.");
  assert.deepEqual(terminated, ["postern is shutting down."]);
  assert.ok(recorded, "endAll resolves only after the session recorded its end");
  assert.deepEqual(hub.list(), []);
});

async function recording(options: RecorderOptions = {}) {
  const dir = await Deno.makeTempDir({ prefix: "postern-rec-" });
  const path = join(dir, "session.cast");
  const started = new Date(Date.now() - 1000);
  const recorder = await AsciicastRecorder.create(path, {
    cols: 80,
    rows: 24,
    started,
    title: "alice@saturn",
    env: { TERM: "xterm-256color" },
  }, options);
  return { dir, path, recorder, started };
}

Deno.test("AsciicastRecorder writes asciicast v2 with output and resize events", async () => {
  const { path, recorder, started, dir } = await recording();
  recorder.output(bytes("$ ls\r\n"));
  recorder.resize(120, 40);
  recorder.output(bytes("a  b\r\n"));
  await recorder.close();
  await recorder.close();
  recorder.output(bytes("after close"));
  const cast = parseRecording(await Deno.readTextFile(path));
  assert.deepEqual(cast.header, {
    version: 2,
    width: 80,
    height: 24,
    timestamp: Math.floor(started.getTime() / 1000),
    title: "alice@saturn",
    env: { TERM: "xterm-256color" },
  });
  assert.deepEqual(cast.events.map(([, code, data]) => [code, data]), [
    ["o", "$ ls\r\n"],
    ["r", "120x40"],
    ["o", "a  b\r\n"],
  ]);
  const times = cast.events.map(([time]) => time);
  assert.ok(times[0] >= 1 && times[0] < 60, `seconds since start: ${times[0]}`);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "times never go back");
  assert.equal(recorder.outputBytes, 12);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("AsciicastRecorder reassembles UTF-8 characters split across chunks", async () => {
  const { path, recorder, dir } = await recording();
  const text = "héllo € 😀 done";
  const all = bytes(text);
  // Split inside "é" (2 bytes), "€" (3 bytes) and "😀" (4 bytes).
  const cuts = [2, 10, 13, 15, all.length];
  let from = 0;
  for (const cut of cuts) {
    recorder.output(all.subarray(from, cut));
    from = cut;
  }
  await recorder.close();
  const cast = parseRecording(await Deno.readTextFile(path));
  const output = cast.events.filter(([, code]) => code === "o").map(([, , data]) => data).join("");
  assert.equal(output, text);
  assert.ok(!output.includes("\ufffd"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("AsciicastRecorder records input only when asked to", async () => {
  const off = await recording();
  off.recorder.input(bytes("secret-password\r"));
  off.recorder.output(bytes("ok\r\n"));
  await off.recorder.close();
  const offText = await Deno.readTextFile(off.path);
  assert.ok(!offText.includes("secret-password"));
  assert.deepEqual(parseRecording(offText).events.map(([, code]) => code), ["o"]);

  const on = await recording({ recordInput: true });
  on.recorder.input(bytes("ls\r"));
  await on.recorder.close();
  const events = parseRecording(await Deno.readTextFile(on.path)).events;
  assert.deepEqual(events.map(([, code, data]) => [code, data]), [["i", "ls\r"]]);
  await Deno.remove(off.dir, { recursive: true });
  await Deno.remove(on.dir, { recursive: true });
});

Deno.test("AsciicastRecorder files are private, never overwritten, and on disk before close", async () => {
  const { path, recorder, dir } = await recording();
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  await assert.rejects(
    AsciicastRecorder.create(path, { cols: 80, rows: 24, started: new Date() }),
    Deno.errors.AlreadyExists,
  );

  // Read by another handle while the recorder is still open: a crash now keeps this.
  const onDisk = async (count: number) => {
    for (let wait = 0; wait < 5_000; wait += 20) {
      const events = parseRecording(await Deno.readTextFile(path)).events;
      if (events.length >= count) return events.map(([, , data]) => data);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`${count} events not on disk after 5 s`);
  };
  recorder.output(bytes("first line\r\n"));
  assert.deepEqual(await onDisk(1), ["first line\r\n"]);
  recorder.output(bytes("second\r\n"));
  assert.deepEqual(await onDisk(2), ["first line\r\n", "second\r\n"]);
  await recorder.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("AsciicastRecorder reports a failed write once and stops recording instead of rejecting", async () => {
  // Every write to /dev/full fails with "No space left on device".
  const file = await Deno.open("/dev/full", { write: true });
  const recorder = AsciicastRecorder.fromFile(file, { cols: 80, rows: 24, started: new Date() });
  const failures: Error[] = [];
  recorder.onFailure((error) => failures.push(error));
  const { promise: failed, resolve } = Promise.withResolvers<void>();
  const timer = setInterval(() => failures.length > 0 && resolve(), 5);
  await failed;
  clearInterval(timer);
  recorder.output(new TextEncoder().encode("after the failure"));
  await recorder.close();
  await recorder.close();
  assert.equal(failures.length, 1);
  assert.match(failures[0].message, /space/i);
  const late: Error[] = [];
  recorder.onFailure((error) => late.push(error));
  assert.equal(late.length, 1, "a callback set after the failure hears of it at once");
});

Deno.test("AsciicastRecorder stops at maxBytes and reports it as a failure once", async () => {
  const { path, recorder, dir } = await recording({ maxBytes: 4096 });
  const failures: Error[] = [];
  recorder.onFailure((error) => failures.push(error));
  const line = bytes("x".repeat(100) + "\r\n");
  let shown = 0;
  for (let i = 0; i < 100 && failures.length === 0; i++) {
    recorder.output(line);
    shown++;
  }
  assert.equal(failures.length, 1);
  assert.ok(failures[0] instanceof RecordingLimitReached);
  assert.ok(shown < 40, `the limit was noticed only after ${shown} events`);
  recorder.output(line);
  await recorder.close();
  assert.equal(failures.length, 1);
  const size = (await Deno.stat(path)).size;
  assert.ok(size <= 4096 && size > 3000, `the recording has ${size} bytes`);
  const cast = parseRecording(await Deno.readTextFile(path));
  assert.equal(cast.events.length, shown - 1, "every event before the limit is kept");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("AsciicastRecorder counts the limit in UTF-8 bytes, for text beyond ASCII too", async () => {
  const { path, recorder, dir } = await recording({ maxBytes: 4096 });
  let limited = false;
  recorder.onFailure(() => limited = true);
  // 2, 3 and 4 bytes a character: counted as characters, the file would pass the limit.
  const line = bytes("é€😀".repeat(40) + "\r\n");
  for (let i = 0; i < 100 && !limited; i++) recorder.output(line);
  await recorder.close();
  assert.ok(limited, "the limit was never reached");
  const size = (await Deno.stat(path)).size;
  assert.ok(size <= 4096 && size > 3000, `the recording has ${size} bytes`);
  await Deno.remove(dir, { recursive: true });
});
