import assert from "node:assert/strict";
import { Registry } from "../../lib/metrics/registry.ts";

Deno.test("Registry.render() writes counters with HELP, TYPE and escaped label values", () => {
  const registry = new Registry();
  const counter = registry.counter<"reason">({
    name: "demo_errors_total",
    help: "Errors by reason.\nSecond line \\ here.",
    labelNames: ["reason"],
    initial: [{ reason: "none" }],
  });
  counter.inc({ reason: 'say "hi"\n\\' }, 2);
  counter.inc({ reason: 'say "hi"\n\\' });
  counter.inc({ reason: 'say "hi"\n\\' }, -5); // a counter never goes down
  assert.equal(
    registry.render(),
    [
      "# HELP demo_errors_total Errors by reason.\\nSecond line \\\\ here.",
      "# TYPE demo_errors_total counter",
      'demo_errors_total{reason="none"} 0',
      'demo_errors_total{reason="say \\"hi\\"\\n\\\\"} 3',
      "",
    ].join("\n"),
  );
});

Deno.test("Histogram counts observations into cumulative buckets with sum and count", () => {
  const registry = new Registry();
  const histogram = registry.histogram<"call">({
    name: "demo_duration_seconds",
    help: "Durations.",
    labelNames: ["call"],
    buckets: [0.1, 1],
  });
  for (const value of [0.05, 0.5, 2]) histogram.observe({ call: "a" }, value);
  assert.deepEqual(registry.render().split("\n").slice(2, -1), [
    'demo_duration_seconds_bucket{call="a",le="0.1"} 1',
    'demo_duration_seconds_bucket{call="a",le="1"} 2',
    'demo_duration_seconds_bucket{call="a",le="+Inf"} 3',
    'demo_duration_seconds_sum{call="a"} 2.55',
    'demo_duration_seconds_count{call="a"} 3',
  ]);
});

Deno.test("Gauge goes up and down and reads collected values at render time", () => {
  const registry = new Registry();
  let reading = 7;
  const live = registry.gauge<"kind">({ name: "demo_live", help: "Live.", labelNames: ["kind"] });
  registry.gauge({ name: "demo_read", help: "Read.", collect: (g) => g.set({}, reading) });
  live.inc({ kind: "a" });
  live.inc({ kind: "a" });
  live.dec({ kind: "a" });
  reading = 9;
  const text = registry.render();
  assert.match(text, /^demo_live\{kind="a"\} 1$/m);
  assert.match(text, /^demo_read 9$/m);
});

Deno.test("Registry refuses bad names, counters without _total and duplicates", () => {
  const registry = new Registry();
  const cases: [string, () => unknown][] = [
    ["bad metric name", () => registry.gauge({ name: "1bad", help: "x" })],
    ["needs _total", () => registry.counter({ name: "demo_count", help: "x" })],
    ["bad label name", () => registry.gauge({ name: "demo_g", help: "x", labelNames: ["le"] })],
  ];
  for (const [message, make] of cases) assert.throws(make, new RegExp(message));
  registry.gauge({ name: "demo_once", help: "x" });
  assert.throws(() => registry.gauge({ name: "demo_once", help: "x" }), /registered twice/);
});
