/**
 * Commands about postern itself: `version` and `config check`.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { VERSION } from "../version.ts";

export const versionCommand: Command = {
  path: ["version"],
  summary: "Print postern's version",
  maxArgs: 0,
  flags: {},
  run() {
    console.log(`postern ${VERSION} (deno ${Deno.version.deno})`);
    return Promise.resolve(0);
  },
};

export const configCheckCommand: Command = {
  path: ["config", "check"],
  summary: "Validate a server config file",
  usage: "<file>",
  minArgs: 1,
  maxArgs: 1,
  flags: {},
  async run({ args }) {
    const { loadConfig } = await import("../config/config.ts");
    await loadConfig(args[0]);
    console.log(`${args[0]}: OK`);
    return 0;
  },
};
