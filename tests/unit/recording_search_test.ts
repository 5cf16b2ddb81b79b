import assert from "node:assert/strict";
import {
  locateHit,
  piecesOf,
  RecordingTextReader,
  type TextLine,
} from "../../lib/auth/recording_text.ts";
import { RecordingIndexer } from "../../lib/auth/recording_index.ts";
import { createLogger } from "../../lib/log.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import type { SessionRecord } from "../../lib/store/store.ts";

const HEADER = JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1 });

function cast(events: [number, string, string][]): string {
  return [HEADER, ...events.map((e) => JSON.stringify(e))].join("\n") + "\n";
}

/** A session of kim's on saturn, recorded at `<id>.cast`. */
function createSession(
  store: SqliteStore,
  id: string,
  kind: "web" | "ssh",
): Promise<SessionRecord> {
  return store.sessions.create({
    id,
    user: "kim",
    login: "root",
    node: "saturn",
    kind,
    started: 0,
    cols: 80,
    rows: 24,
    recordingPath: `${id}.cast`,
    proxyId: null,
  });
}

function linesOf(text: string, final = true): { lines: TextLine[]; to: number } {
  const reader = new RecordingTextReader(0);
  reader.push(new TextEncoder().encode(text));
  return reader.take({ final });
}

const CASES: {
  name: string;
  events: [number, string, string][];
  lines: [string, number, string][];
}[] = [
  {
    name: "output lines with their start times, CRLF and blank lines",
    events: [[0.5, "o", "$ ls\r\n"], [1, "o", "a.txt  b.txt\r\n\r\n"], [2, "o", "done"]],
    lines: [["o", 0.5, "$ ls"], ["o", 1, "a.txt b.txt"], ["o", 2, "done"]],
  },
  {
    name: "colours, titles and cursor moves removed; a line split over events",
    events: [
      [1, "o", "\x1b]0;root@saturn: ~\x07\x1b[01;32mroot@sat"],
      [1.5, "o", "urn\x1b[00m:\x1b[01;34m~\x1b[00m# "],
      [2, "o", "ok\x1b[5Cgap\x1b[2;1Hnext line\n"],
    ],
    lines: [["o", 1, "root@saturn:~# ok gap"], ["o", 2, "next line"]],
  },
  {
    name: "an escape sequence cut between two events",
    events: [[1, "o", "red \x1b[3"], [2, "o", "1mtext\n"]],
    lines: [["o", 1, "red text"]],
  },
  {
    name: "input, with backspace, ended by Enter; resizes and markers ignored",
    events: [[1, "i", "sudo rm -rf /tmpx\x7f\r"], [2, "r", "100x40"], [3, "m", "mark"]],
    lines: [["i", 1, "sudo rm -rf /tmp"]],
  },
];

for (const c of CASES) {
  Deno.test(`RecordingTextReader reads ${c.name}`, () => {
    const { lines } = linesOf(cast(c.events));
    assert.deepEqual(lines.map((l) => [l.stream, l.time, l.text]), c.lines);
  });
}

Deno.test("RecordingTextReader stops before a line still being written, unless final", () => {
  const text = cast([[1, "o", "first\r\n"], [2, "o", "$ half"]]);
  const partial = linesOf(text, false);
  assert.deepEqual(partial.lines.map((l) => l.text), ["first"]);
  // The next read starts after the record that completed "first".
  const settled = new TextEncoder().encode(cast([[1, "o", "first\r\n"]])).byteLength;
  assert.equal(partial.to, settled);
  const whole = linesOf(text, true);
  assert.deepEqual(whole.lines.map((l) => l.text), ["first", "$ half"]);
  assert.equal(whole.to, new TextEncoder().encode(text).byteLength);
});

Deno.test("RecordingTextReader reads records cut anywhere between pushes", () => {
  const bytes = new TextEncoder().encode(
    cast([[1, "o", "héllo wörld\r\n"], [2, "o", "second line\r\n"]]),
  );
  for (const cut of [1, 10, 30, 45, bytes.length - 2]) {
    const reader = new RecordingTextReader(0);
    reader.push(bytes.subarray(0, cut));
    reader.push(bytes.subarray(cut));
    const { lines, to } = reader.take({ final: false });
    assert.deepEqual(lines.map((l) => l.text), ["héllo wörld", "second line"], `cut at ${cut}`);
    assert.equal(to, bytes.length);
  }
});

Deno.test("piecesOf() groups lines of one stream, and locateHit() finds the line", () => {
  const lines: TextLine[] = [
    { stream: "o", time: 1, text: "compiling" },
    { stream: "o", time: 2, text: "error: disk full" },
    { stream: "o", time: 3, text: "exit 1" },
    { stream: "i", time: 4, text: "df -h" },
  ];
  const pieces = piecesOf(lines);
  assert.deepEqual(pieces, [
    { stream: "o", text: "compiling\nerror: disk full\nexit 1", times: [1, 2, 3] },
    { stream: "i", text: "df -h", times: [4] },
  ]);
  assert.deepEqual(locateHit(pieces[0], ["disk", "ful"]), {
    time: 2,
    context: ["compiling", "error: disk full", "exit 1"],
    line: 1,
  });
  assert.deepEqual(locateHit(pieces[0], ["compiling"]), {
    time: 1,
    context: ["compiling", "error: disk full"],
    line: 0,
  });
});

Deno.test("RecordingIndexer indexes appended and finished recordings incrementally", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-index-" });
  const store = SqliteStore.open(dir);
  const indexer = new RecordingIndexer(store, createLogger({ level: "error" }));
  try {
    const id = "2d7d2f30-3e4f-4071-acbd-2e3f4a5b6c7d";
    await createSession(store, id, "web");
    const bytes = new TextEncoder().encode(
      cast([[1, "o", "kernel panic\r\n"], [2, "o", "$ echo unfinished"], [3, "o", " line\r\n"]]),
    );
    const cut = bytes.length - 12;
    await store.recordings.append(id, 0, bytes.subarray(0, cut));
    indexer.update(id);
    await indexer.settled();
    const texts = async (q: string) => (await indexer.search(q, {})).map((h) => h.context[h.line]);
    assert.deepEqual(await texts("kernel panic"), ["kernel panic"]);
    assert.deepEqual(await texts("unfinished"), []);
    await store.recordings.append(id, cut, bytes.subarray(cut));
    indexer.update(id);
    await indexer.settled();
    assert.deepEqual(await texts("unfinished line"), ["$ echo unfinished line"]);
    const [hit] = await indexer.search("PANIC", { user: "kim" });
    assert.equal(hit.time, 1);
    assert.deepEqual(await indexer.search("panic", { user: "lee" }), []);
  } finally {
    await indexer.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RecordingIndexer.close() stops a long indexing between steps; the next start finishes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-index-" });
  const store = SqliteStore.open(dir);
  try {
    const id = "5a1e0c2d-7b44-4c1e-9a63-0f2b7c9d1e30";
    await createSession(store, id, "ssh");
    const events: [number, string, string][] = [];
    for (let i = 0; i < 2000; i++) {
      events.push([i / 100, "o", `line ${i} of output\r\n`.repeat(20)]);
    }
    events.push([30, "o", "the very last line\r\n"]);
    await store.recordings.append(id, 0, new TextEncoder().encode(cast(events)));
    await store.sessions.end(id, 30_000, 0);

    // A tiny share: indexing it all would take minutes.
    const slow = new RecordingIndexer(store, createLogger({ level: "error" }), 0.01);
    slow.update(id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await slow.close();
    assert.ok(performance.now() - started < 2000, "close() waited for the whole recording");
    assert.deepEqual(await slow.search("very last", {}), [], "not indexed to the end yet");

    const next = new RecordingIndexer(store, createLogger({ level: "error" }), 1);
    await next.updateAll();
    const [hit] = await next.search("very last", {});
    assert.equal(hit?.context[hit.line], "the very last line");
    await next.close();
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
