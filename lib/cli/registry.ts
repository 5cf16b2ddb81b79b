/**
 * Every command of the `postern` executable, in the order `--help` lists them,
 * grouped by the module that defines them. A module is imported only when one
 * of its commands runs (or for the full help): OpenSSH starts `postern proxy
 * ssh` for every connection, and `postern version` should not pay for the
 * server, the admin commands or YAML (issue 17).
 *
 * @module
 */

import type { Command } from "./args.ts";
import { importLazily } from "./lazy.ts";

/** Commands of one module, and the first words of their paths. */
interface CommandModule {
  /** First words of every command the module defines (checked by a unit test). */
  words: readonly string[];
  load(): Promise<Command[]>;
}

/** In help order. */
const modules: readonly CommandModule[] = [
  { words: ["start"], load: async () => [(await importLazily("start")).startCommand] },
  { words: ["config"], load: async () => [(await importLazily("basic")).configCheckCommand] },
  {
    words: ["install"],
    load: async () => [(await importLazily("install")).installSystemdCommand],
  },
  {
    words: ["backup", "restore"],
    load: async () => {
      const { backupCommand, restoreCommand } = await importLazily("backup");
      return [backupCommand, restoreCommand];
    },
  },
  {
    words: ["users", "nodes", "tokens", "proxies", "identity", "ca", "audit"],
    load: async () => (await importLazily("admin")).adminCommands,
  },
  { words: ["storage"], load: async () => (await importLazily("storage")).storageCommands },
  {
    words: [
      "login",
      "status",
      "ls",
      "ssh",
      "config",
      "sessions",
      "join",
      "play",
      "agent",
      "proxy",
      "logout",
    ],
    load: async () => (await importLazily("client")).clientCommands,
  },
  { words: ["version"], load: async () => [(await importLazily("basic")).versionCommand] },
];

/**
 * The commands whose path starts with `word`, loading only their modules.
 *
 * @param word the first word of argv
 * @returns those commands, in help order (none for an unknown word)
 * @example
 * ```ts
 * const [version] = await commandsStartingWith("version");
 * ```
 */
export async function commandsStartingWith(word: string): Promise<Command[]> {
  const loaded = await Promise.all(
    modules.filter((m) => m.words.includes(word)).map((m) => m.load()),
  );
  return loaded.flat().filter((c) => c.path[0] === word);
}

/**
 * Every command, in help order (loads every command module).
 *
 * @returns the commands
 * @example
 * ```ts
 * for (const c of await allCommands()) console.log(c.path.join(" "));
 * ```
 */
export async function allCommands(): Promise<Command[]> {
  return (await Promise.all(modules.map((m) => m.load()))).flat();
}

/**
 * The first words each module declares, beside those of the commands it
 * really defines (for the test that keeps them in step).
 *
 * @returns one entry per module
 */
export async function declaredWords(): Promise<{ declared: string[]; defined: string[] }[]> {
  return await Promise.all(modules.map(async (m) => ({
    declared: [...m.words].sort(),
    defined: [...new Set((await m.load()).map((c) => c.path[0]))].sort(),
  })));
}
