/**
 * How to run this postern again from outside (a systemd unit, a daemon, an
 * ssh ProxyCommand): the compiled binary, or deno with this checkout's main.ts.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The program and arguments that run this postern. */
export function selfInvocation(): string[] {
  const program = Deno.execPath();
  if (!/(^|\/)deno(\.exe)?$/.test(program)) return [program];
  return [
    program,
    "run",
    "-A",
    // V8's gc() for lib/memory/collect_garbage.ts, as `deno task start` and the binary have it.
    "--v8-flags=--expose-gc",
    fileURLToPath(new URL("../../main.ts", import.meta.url)),
  ];
}
