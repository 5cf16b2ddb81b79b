/**
 * playRecording() with an injected clock: what is written, when, and how speed,
 * the idle cap, aborts and damaged files change that.
 */

import assert from "node:assert/strict";
import { MIN_SLEEP_MS, playRecording } from "../../lib/client/play.ts";
import { parseRecording } from "../../lib/session/asciicast.ts";
import { isKind } from "../../lib/errors.ts";
import { AsciicastRecorder } from "../../lib/session/recorder.ts";

const HEADER = JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1700000000 });

/** An asciicast v2 file from events. */
function cast(events: unknown[], header = HEADER): string {
  return [header, ...events.map((e) => JSON.stringify(e))].join("\n") + "\n";
}

/** A fake clock: sleep() advances it; each write is recorded with the time it happened. */
function player(onSleep?: (ms: number, now: number) => void) {
  let now = 0;
  const writes: { at: number; text: string }[] = [];
  const sleeps: number[] = [];
  const decoder = new TextDecoder();
  return {
    writes,
    sleeps,
    write: (data: Uint8Array) => {
      writes.push({ at: now, text: decoder.decode(data) });
    },
    sleep: (ms: number) => {
      sleeps.push(ms);
      now += ms;
      onSleep?.(ms, now);
      return Promise.resolve();
    },
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const timeline = (p: ReturnType<typeof player>) => p.writes.map((w) => [round(w.at), w.text]);

Deno.test("playRecording() writes output events in order at their times and skips the rest", async () => {
  const p = player();
  const result = await playRecording(
    cast([
      [0.5, "o", "$ "],
      [1.0, "i", "l"],
      [1.25, "o", "ls\r\n"],
      [1.5, "r", "100x30"],
      [1.75, "m", "marker"],
      [2.0, "o", "a  b  c\r\n"],
      [2.5, "x", "future event type"],
      [3.0, "o", "héllo ✓"],
      [4.0, "i", "exit\r"],
    ]),
    p,
  );
  assert.deepEqual(timeline(p), [
    [500, "$ "],
    [1250, "ls\r\n"],
    [2000, "a  b  c\r\n"],
    [3000, "héllo ✓"],
  ]);
  assert.deepEqual(result, { events: 4, durationMs: 3000, aborted: false });
});

Deno.test("playRecording() divides pauses by the speed", async () => {
  const events = [[1, "o", "a"], [2, "o", "b"], [2.5, "o", "c"]];
  for (
    const [speed, expected] of [
      [1, [[1000, "a"], [2000, "b"], [2500, "c"]]],
      [2, [[500, "a"], [1000, "b"], [1250, "c"]]],
      [0.5, [[2000, "a"], [4000, "b"], [5000, "c"]]],
    ] as const
  ) {
    const p = player();
    const result = await playRecording(cast(events), { ...p, speed });
    assert.deepEqual(timeline(p), expected, `speed ${speed}`);
    assert.equal(result.durationMs, expected[2][0]);
  }
});

Deno.test("playRecording() caps long pauses before applying the speed", async () => {
  const events = [[0.1, "o", "a"], [60.1, "o", "b"], [61.1, "o", "c"]];
  const cases: [string, object, string, number[]][] = [
    ["default 2 s", {}, HEADER, [100, 2100, 3100]],
    ["option", { maxIdleMs: 500 }, HEADER, [100, 600, 1100]],
    ["no cap", { maxIdleMs: Infinity }, HEADER, [100, 60100, 61100]],
    ["cap then speed", { speed: 2 }, HEADER, [50, 1050, 1550]],
    [
      "header idle_time_limit",
      {},
      JSON.stringify({ version: 2, width: 80, height: 24, idle_time_limit: 0.25 }),
      [100, 350, 600],
    ],
    [
      "option over header",
      { maxIdleMs: 3000 },
      JSON.stringify({ version: 2, width: 80, height: 24, idle_time_limit: 0.25 }),
      [100, 3100, 4100],
    ],
  ];
  for (const [name, options, header, expected] of cases) {
    const p = player();
    await playRecording(cast(events, header), { ...p, ...options });
    assert.deepEqual(p.writes.map((w) => round(w.at)), expected, name);
  }
});

Deno.test("playRecording() writes bursts together without losing their time", async () => {
  const burst = Array.from({ length: 20 }, (_, i) => [1 + i * 0.001, "o", `${i},`]);
  const p = player();
  const result = await playRecording(cast([...burst, [1.5, "o", "end"]]), p);
  // 20 events 1 ms apart: slept once before the first (1 s), then every
  // MIN_SLEEP_MS of carried pauses at most.
  assert.ok(p.writes.length <= 4, `${p.writes.length} writes`);
  assert.ok(p.sleeps.every((ms) => ms >= MIN_SLEEP_MS));
  assert.equal(p.writes.map((w) => w.text).join(""), burst.map((e) => e[2]).join("") + "end");
  assert.deepEqual(p.writes.at(-1), { at: 1500, text: "end" });
  assert.equal(result.events, 21);
  assert.equal(round(result.durationMs), 1500);
});

Deno.test("playRecording() stops early when the signal aborts", async () => {
  const controller = new AbortController();
  const p = player((_ms, now) => {
    if (now >= 2000) controller.abort();
  });
  const result = await playRecording(
    cast([[1, "o", "a"], [2, "o", "b"], [3, "o", "c"]]),
    { ...p, signal: controller.signal },
  );
  assert.deepEqual(timeline(p), [[1000, "a"]], "nothing after the abort");
  assert.deepEqual(result, { events: 1, durationMs: 1000, aborted: true });

  const before = player();
  const early = await playRecording(cast([[0, "o", "a"]]), {
    ...before,
    signal: AbortSignal.abort(),
  });
  assert.deepEqual(before.writes, []);
  assert.deepEqual(early, { events: 0, durationMs: 0, aborted: true });
});

Deno.test("playRecording() with the real timer: an abort cuts a long pause short", async () => {
  const controller = new AbortController();
  const writes: string[] = [];
  const started = performance.now();
  setTimeout(() => controller.abort(), 50);
  const result = await playRecording(
    cast([[0.02, "o", "a"], [30, "o", "b"]]),
    {
      write: (d) => void writes.push(new TextDecoder().decode(d)),
      signal: controller.signal,
      maxIdleMs: Infinity,
    },
  );
  assert.ok(performance.now() - started < 1000);
  assert.deepEqual(writes, ["a"]);
  assert.equal(result.aborted, true);
});

Deno.test("playRecording() refuses damaged files with BadRequest naming the line, writing nothing", async () => {
  const ok = JSON.stringify([1, "o", "x"]);
  const cases: [string, string, RegExp][] = [
    ["empty", "\n\n", /the file is empty/],
    ["not JSON", "hello world\n", /line 1: the header is not JSON/],
    ["header array", "[1]\n", /line 1: the header is not a JSON object/],
    [
      "version 1",
      '{"version": 1, "width": 80, "height": 24, "stdout": []}',
      /line 1: asciicast version 1 is not supported/,
    ],
    ["version 3", '{"version": 3, "term": {"cols": 80, "rows": 24}}', /version 3 is not supported/],
    [
      "no width",
      '{"version": 2, "height": 24}',
      /line 1: the header's width must be a positive integer/,
    ],
    [
      "bad idle limit",
      '{"version": 2, "width": 80, "height": 24, "idle_time_limit": -1}',
      /idle_time_limit/,
    ],
    ["broken event", `${HEADER}\n${ok}\n[2, "o", "cut`, /line 3: not valid JSON/],
    ["blank lines counted", `${HEADER}\n\n${ok}\n\n{"a": 1}\n`, /line 5: expected an event/],
    ["short event", `${HEADER}\n[1, "o"]`, /line 2: expected an event/],
    [
      "negative time",
      `${HEADER}\n[-1, "o", "x"]`,
      /line 2: the event time must be a non-negative number/,
    ],
    ["time as string", `${HEADER}\n["1", "o", "x"]`, /line 2: the event time/],
    ["type not string", `${HEADER}\n[1, 5, "x"]`, /line 2: the event type/],
    ["data not string", `${HEADER}\n[1, "o", {"x": 1}]`, /line 2: the event data must be a string/],
  ];
  for (const [name, text, message] of cases) {
    const p = player();
    await assert.rejects(
      playRecording(text, p),
      (e) => isKind(e, "bad_request") && message.test((e as Error).message),
      name,
    );
    assert.deepEqual(p.writes, [], name);
  }
});

Deno.test("playRecording() refuses a speed or idle cap that is not a positive number", async () => {
  for (const speed of [0, -1, NaN, Infinity]) {
    await assert.rejects(
      playRecording(cast([[1, "o", "x"]]), { ...player(), speed }),
      (e) =>
        isKind(e, "bad_request") && /speed must be a positive number/.test((e as Error).message),
      `speed ${speed}`,
    );
  }
  await assert.rejects(
    playRecording(cast([[1, "o", "x"]]), { ...player(), maxIdleMs: 0 }),
    (e) => isKind(e, "bad_request") && /idle limit/.test((e as Error).message),
  );
});

Deno.test("playRecording() reads CRLF lines and treats a time going backwards as no pause", async () => {
  const p = player();
  const text = [
    HEADER,
    JSON.stringify([0.5, "o", "one"]),
    JSON.stringify([0.25, "o", "two"]),
    JSON.stringify([0.75, "o", "three"]),
    "",
  ].join("\r\n");
  const result = await playRecording(text, p);
  // "two" comes with no pause after "one", so both leave in one write.
  assert.deepEqual(timeline(p), [[500, "onetwo"], [750, "three"]]);
  assert.equal(result.events, 3);
});

Deno.test("playRecording() plays what AsciicastRecorder writes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-play-test-" });
  try {
    const path = `${dir}/s.cast`;
    const recorder = await AsciicastRecorder.create(path, {
      cols: 100,
      rows: 30,
      started: new Date(),
    });
    const encoder = new TextEncoder();
    recorder.output(encoder.encode("$ echo ✓\r\n"));
    recorder.input(encoder.encode("typed"));
    recorder.resize(120, 40);
    recorder.output(encoder.encode("✓\r\n"));
    await recorder.close();

    const text = await Deno.readTextFile(path);
    const { header } = parseRecording(text);
    assert.deepEqual([header.version, header.width, header.height], [2, 100, 30]);
    const p = player();
    const result = await playRecording(text, p);
    assert.equal(p.writes.map((w) => w.text).join(""), "$ echo ✓\r\n✓\r\n");
    assert.equal(result.events, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session without output is recorded with one empty event, and plays", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-play-test-" });
  try {
    const path = `${dir}/silent.cast`;
    const recorder = await AsciicastRecorder.create(path, {
      cols: 80,
      rows: 24,
      started: new Date(),
    });
    await recorder.close();
    const text = await Deno.readTextFile(path);
    const { events } = parseRecording(text);
    assert.equal(events.length, 1, "players refuse a recording without events");
    assert.deepEqual(events[0].slice(1), ["o", ""]);
    const result = await playRecording(text, player());
    assert.equal(result.events, 0, "nothing to show, and no error");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
