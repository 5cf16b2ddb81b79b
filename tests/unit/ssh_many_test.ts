import assert from "node:assert/strict";
import { isKind } from "../../lib/errors.ts";
import { isLabelSelector, LinePrefixer, selectorFilters } from "../../lib/client/ssh_many.ts";

Deno.test("LinePrefixer prefixes whole lines, however the output is cut", () => {
  const cases: [string[], string][] = [
    [["a\nb\n"], "[n] a\n[n] b\n"],
    [["a", "b\nc", "\n"], "[n] ab\n[n] c\n"],
    [["no newline"], "[n] no newline\n"],
    [["\n\n"], "[n] \n[n] \n"],
    [[], ""],
  ];
  for (const [chunks, expected] of cases) {
    let out = "";
    const lines = new LinePrefixer("[n] ", (b) => (out += new TextDecoder().decode(b)));
    for (const chunk of chunks) lines.push(new TextEncoder().encode(chunk));
    lines.flush();
    assert.equal(out, expected, JSON.stringify(chunks));
  }
});

Deno.test("selectorFilters() splits key=value pairs and names a bad one", () => {
  assert.equal(isLabelSelector("saturn"), false);
  assert.equal(isLabelSelector("env=prod"), true);
  assert.deepEqual(selectorFilters("env=prod,team=db"), ["env=prod", "team=db"]);
  assert.throws(
    () => selectorFilters("env=prod,=x"),
    (e) => isKind(e, "bad_request") && /"=x" is not key=value/.test(e.message),
  );
});
