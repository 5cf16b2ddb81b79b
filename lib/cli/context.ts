/**
 * What server-side commands share: flags for the config file, data dir and
 * logging, and turning them into a loaded config, a data dir and a logger.
 *
 * @module
 */

import type { FlagSpec, ParsedArgs } from "./args.ts";
import { stringFlag } from "./args.ts";
import type { Config } from "../config/config.ts";
import { ensurePrivateDir, resolveDataDir } from "../config/paths.ts";
import { createLogger, type LogFormat, type Logger, type LogLevel } from "../log.ts";
import { UsageError } from "./args.ts";

/** Flags of every command that works on a server's data dir. */
export const serverFlags: Record<string, FlagSpec> = {
  config: { type: "string", placeholder: "file", description: "YAML config file (optional)" },
  "data-dir": {
    type: "string",
    placeholder: "dir",
    description: "data directory (default $POSTERN_DATA_DIR or ~/.local/share/postern)",
  },
  "log-level": { type: "string", placeholder: "level", description: "debug, info, warn or error" },
  "log-format": { type: "string", placeholder: "format", description: "text (default) or json" },
};

/** Flags of every admin command: the local data dir, or the Auth API with an identity. */
export const adminFlags = {
  ...serverFlags,
  "auth-server": {
    type: "string" as const,
    placeholder: "host:port",
    description: "administer through this Auth API instead of the local data dir",
  },
  identity: {
    type: "string" as const,
    placeholder: "file",
    description: "admin identity for --auth-server (from `postern identity`)",
  },
};

/** Loaded config, data dir and logger for a server-side command. */
export interface ServerContext {
  config: Config;
  dataDir: string;
  log: Logger;
  /**
   * Reads the config file again (SIGHUP) and applies its log level unless
   * --log-level was given; the caller applies the rest.
   */
  reloadConfig(): Promise<Config>;
}

const LEVELS = ["debug", "info", "warn", "error"];
const FORMATS = ["text", "json"];

/** Loads the config named by flags, creates the data dir (0700) and the logger. */
export async function serverContext(parsed: ParsedArgs): Promise<ServerContext> {
  const level = stringFlag(parsed, "log-level");
  const format = stringFlag(parsed, "log-format");
  if (level !== undefined && !LEVELS.includes(level)) {
    throw new UsageError(`--log-level "${level}" is not one of ${LEVELS.join(", ")}`);
  }
  if (format !== undefined && !FORMATS.includes(format)) {
    throw new UsageError(`--log-format "${format}" is not one of ${FORMATS.join(", ")}`);
  }
  const configPath = stringFlag(parsed, "config");
  // YAML and the schema load only for commands that read the config.
  const { loadConfig } = await import("../config/config.ts");
  const config = await loadConfig(configPath);
  let configuredLevel = config.log.level;
  const log = createLogger({
    level: () => (level ?? configuredLevel) as LogLevel,
    format: (format ?? config.log.format) as LogFormat,
  });
  const dataDir = resolveDataDir(stringFlag(parsed, "data-dir"), config.data_dir);
  await ensurePrivateDir(dataDir);
  return {
    config,
    dataDir,
    log,
    async reloadConfig() {
      const reloaded = await loadConfig(configPath);
      configuredLevel = reloaded.log.level;
      return reloaded;
    },
  };
}
