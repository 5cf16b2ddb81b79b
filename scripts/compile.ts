/**
 * Builds the single executable `dist/postern` with the web UI embedded
 * (`--include ui/dist`), and the CLI modules imported by URL at run time
 * (lib/cli/lazy.ts). `deno compile` downloads a runtime ("denort") from
 * the Deno release site; where that site cannot be reached, point
 * `DENORT_BIN` at a downloaded denort binary of the same Deno version.
 *
 * @module
 */

import { lazyModuleFiles } from "../lib/cli/lazy.ts";

const args = [
  "compile",
  "-A",
  // V8's gc() for lib/memory/collect_garbage.ts.
  "--v8-flags=--expose-gc",
  "--include",
  "ui/dist",
  ...lazyModuleFiles.flatMap((file) => ["--include", file]),
  "--output",
  "dist/postern",
  "main.ts",
];
const { code, stderr } = await new Deno.Command(Deno.execPath(), {
  args,
  stdout: "inherit",
  stderr: "piped",
}).output();
const text = new TextDecoder().decode(stderr);
await Deno.stderr.write(stderr);
if (code !== 0) {
  if (
    /download|denort|dl\.deno\.land|network|dns|connect/i.test(text) && !Deno.env.get("DENORT_BIN")
  ) {
    console.error(
      "\npostern: deno compile could not download the Deno runtime (denort) it embeds.\n" +
        `Download denort for Deno ${Deno.version.deno} on a machine with access to ` +
        "https://dl.deno.land, then run:\n  DENORT_BIN=/path/to/denort deno task compile",
    );
  }
  Deno.exit(code);
}
console.error("built dist/postern");
