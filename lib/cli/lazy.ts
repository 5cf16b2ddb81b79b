/**
 * Imports of the CLI's larger modules, made only when a command needs them
 * and kept out of the module graph Deno builds when `deno run` starts.
 *
 * Why: Deno builds the graph of every statically analysable `import("…")`
 * of a module as soon as that module loads, npm packages included, even when
 * the import never runs (~50 ms for the server's graph under `postern
 * version`). A URL made at run time is not analysed; the module's type comes
 * from `typeof import(…)`, which only the type checker follows. `deno
 * compile` cannot see these imports either, so scripts/compile.ts embeds
 * {@link lazyModuleFiles} with `--include`.
 *
 * @module
 */

/** The modules, by name. */
interface LazyModules {
  start: typeof import("./start.ts");
  basic: typeof import("./basic.ts");
  install: typeof import("./install.ts");
  backup: typeof import("./backup.ts");
  admin: typeof import("./admin.ts");
  storage: typeof import("./storage.ts");
  client: typeof import("./client.ts");
  ssh: typeof import("../client/ssh.ts");
  forwarding: typeof import("../client/forwarding.ts");
  play: typeof import("../client/play.ts");
  agentDaemon: typeof import("../client/agent_daemon.ts");
}

/** Where each is, relative to this file (the same paths as in {@link LazyModules}). */
const paths: { readonly [K in keyof LazyModules]: string } = {
  start: "./start.ts",
  basic: "./basic.ts",
  install: "./install.ts",
  backup: "./backup.ts",
  admin: "./admin.ts",
  storage: "./storage.ts",
  client: "./client.ts",
  ssh: "../client/ssh.ts",
  forwarding: "../client/forwarding.ts",
  play: "../client/play.ts",
  agentDaemon: "../client/agent_daemon.ts",
};

/**
 * Imports one of the modules.
 *
 * @param name which
 * @returns the module
 * @example
 * ```ts
 * const { ssh } = await importLazily("ssh");
 * ```
 */
export function importLazily<K extends keyof LazyModules>(name: K): Promise<LazyModules[K]> {
  return import(new URL(paths[name], import.meta.url).href);
}

/** Absolute paths of every module {@link importLazily} may import, for `deno compile --include`. */
export const lazyModuleFiles: readonly string[] = Object.values(paths).map((path) =>
  decodeURIComponent(new URL(path, import.meta.url).pathname)
);
