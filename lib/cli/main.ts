/**
 * Dispatches argv to a command, prints help, and maps outcomes to exit codes:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 *
 * @module
 */

import { type Command, commandHelp, parseArgs, UsageError } from "./args.ts";
import { PosternError } from "../errors.ts";
import { allCommands, commandsStartingWith } from "./registry.ts";

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

function topLevelHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(" ").length)) + 4;
  const lines = commands.map((c) => `  ${c.path.join(" ").padEnd(width)}${c.summary}`);
  return [
    "postern: identity-aware SSH access proxy",
    "",
    "Usage: postern <command> [flags]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `postern <command> --help` for a command's flags.",
  ].join("\n");
}

/** Finds the longest path among `commands` that prefixes argv. */
function findCommand(
  commands: Command[],
  argv: string[],
): { command?: Command; consumed: number } {
  let best: { command?: Command; consumed: number } = { consumed: 0 };
  for (const command of commands) {
    const n = command.path.length;
    if (n > best.consumed && command.path.every((word, i) => argv[i] === word)) {
      best = { command, consumed: n };
    }
  }
  return best;
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    console.log(topLevelHelp(await allCommands()));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (argv[0] === "--version") argv = ["version"];
  const commands = await commandsStartingWith(argv[0]);
  const { command, consumed } = findCommand(commands, argv);
  if (!command) {
    const group = commands.filter((c) => c.path[0] === argv[0]);
    const hint = group.length
      ? `"${argv[0]}" needs a subcommand: ${group.map((c) => c.path.slice(1).join(" ")).join(", ")}`
      : `unknown command "${argv[0]}"`;
    console.error(`postern: ${hint}\nRun \`postern --help\` for the list of commands.`);
    return EXIT.usage;
  }
  const rest = argv.slice(consumed);
  if (rest.includes("--help") || rest.includes("-h")) {
    const passIndex = rest.indexOf("--");
    const helpIndex = Math.max(rest.indexOf("--help"), rest.indexOf("-h"));
    if (passIndex === -1 || helpIndex < passIndex) {
      console.log(commandHelp(command));
      return EXIT.ok;
    }
  }
  try {
    return await command.run(parseArgs(command, rest));
  } catch (error) {
    return reportError(error, command);
  }
}

function reportError(error: unknown, command: Command): number {
  if (error instanceof UsageError) {
    console.error(`postern ${command.path.join(" ")}: ${error.message}`);
    console.error(commandHelp(command).split("\n")[0]);
    return EXIT.usage;
  }
  if (error instanceof PosternError) {
    console.error(`postern: ${error.message}`);
    return EXIT.failure;
  }
  console.error(`postern: unexpected error: ${error instanceof Error ? error.message : error}`);
  if (Deno.env.get("POSTERN_DEBUG")) console.error(error);
  return EXIT.failure;
}
