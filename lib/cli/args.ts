/**
 * Command-line parsing: each command declares its flags and positionals; this
 * module turns argv into typed values or a UsageError (exit code 2).
 *
 * @module
 */

/** A flag a command accepts. */
export interface FlagSpec {
  /** "string" takes a value (`--x v` or `--x=v`); "boolean" takes none; "list" may repeat. */
  type: "string" | "boolean" | "list";
  description: string;
  /** One-letter alias, e.g. "p" for -p. */
  short?: string;
  /** Shown in help as `--flag <placeholder>`. */
  placeholder?: string;
}

/** A command of the `postern` executable. */
export interface Command {
  /** Words that select it, e.g. ["users", "add"]. */
  path: string[];
  summary: string;
  /** Positionals in usage form, e.g. "<name> <host:port>". */
  usage?: string;
  /** Longer help text: examples and notes. */
  details?: string;
  minArgs?: number;
  /** Maximum positionals; after this many, the rest are passed through verbatim. */
  maxArgs?: number;
  /** When true, everything after the last declared positional is passed through (ssh commands). */
  passThrough?: boolean;
  flags: Record<string, FlagSpec>;
  run(input: ParsedArgs): Promise<number>;
}

/** Parsed flags and positionals. */
export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  args: string[];
  /** Arguments after the declared positionals (with passThrough) or after `--`. */
  rest: string[];
}

/** A usage mistake: printed as one line plus usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: Command) {
    super(message);
  }
}

/** Parses argv for one command. */
export function parseArgs(command: Command, argv: string[]): ParsedArgs {
  const flags: ParsedArgs["flags"] = {};
  const args: string[] = [];
  let rest: string[] = [];
  const byShort = new Map(
    Object.entries(command.flags).filter(([, f]) => f.short).map(([name, f]) => [f.short!, name]),
  );
  const maxArgs = command.maxArgs ?? Infinity;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--") {
      rest = argv.slice(i + 1);
      break;
    }
    if (token.startsWith("-") && token !== "-") {
      const eq = token.indexOf("=");
      const rawName = eq > 0 ? token.slice(0, eq) : token;
      const name = rawName.startsWith("--") ? rawName.slice(2) : byShort.get(rawName.slice(1));
      const spec = name === undefined ? undefined : command.flags[name];
      if (!spec || name === undefined) {
        throw new UsageError(`unknown flag ${rawName}`, command);
      }
      if (spec.type === "boolean") {
        if (eq > 0) throw new UsageError(`flag --${name} takes no value`, command);
        flags[name] = true;
        continue;
      }
      const value = eq > 0 ? token.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`flag --${name} needs a value`, command);
      if (spec.type === "list") flags[name] = [...(flags[name] as string[] ?? []), value];
      else flags[name] = value;
      continue;
    }
    if (command.passThrough && args.length === maxArgs) {
      rest = argv.slice(i);
      break;
    }
    args.push(token);
  }
  if (args.length < (command.minArgs ?? 0)) {
    throw new UsageError(`missing argument: ${command.usage ?? ""}`.trim(), command);
  }
  if (args.length > maxArgs) {
    throw new UsageError(`unexpected argument "${args[maxArgs]}"`, command);
  }
  return { flags, args, rest };
}

/** The help text of one command. */
export function commandHelp(command: Command): string {
  const lines = [
    `Usage: postern ${command.path.join(" ")}${command.usage ? " " + command.usage : ""}${
      Object.keys(command.flags).length ? " [flags]" : ""
    }`,
    "",
    command.summary,
  ];
  if (command.details) lines.push("", command.details.trim());
  const entries = Object.entries(command.flags);
  if (entries.length) {
    lines.push("", "Flags:");
    const rendered = entries.map(([name, f]) => {
      const short = f.short ? `-${f.short}, ` : "    ";
      const value = f.type === "boolean" ? "" : ` <${f.placeholder ?? "value"}>`;
      return [`  ${short}--${name}${value}`, f.description] as const;
    });
    const width = Math.max(...rendered.map(([left]) => left.length)) + 2;
    for (const [left, text] of rendered) lines.push(left.padEnd(width) + text);
  }
  return lines.join("\n");
}

/** Returns a string flag or undefined. */
export function stringFlag(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.flags[name];
  return typeof value === "string" ? value : undefined;
}

/** Returns a list flag, splitting comma-separated values. */
export function listFlag(parsed: ParsedArgs, name: string): string[] {
  const value = parsed.flags[name];
  const raw = Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
  return raw.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}
