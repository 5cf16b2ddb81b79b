/**
 * Every command of the `postern` executable, in the order `--help` lists them.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { configCheckCommand, versionCommand } from "./basic.ts";
import { startCommand } from "./start.ts";
import { adminCommands } from "./admin.ts";
import { clientCommands } from "./client.ts";
import { storageCommands } from "./storage.ts";
import { installSystemdCommand } from "./install.ts";
import { backupCommand, restoreCommand } from "./backup.ts";

export const commands: Command[] = [
  startCommand,
  configCheckCommand,
  installSystemdCommand,
  backupCommand,
  restoreCommand,
  ...adminCommands,
  ...storageCommands,
  ...clientCommands,
  versionCommand,
];
