/**
 * The shell lines `postern agent` prints, in the two syntaxes ssh-agent prints:
 * Bourne (`-s`, `SSH_AUTH_SOCK=...; export SSH_AUTH_SOCK;`) and C shell (`-c`,
 * `setenv SSH_AUTH_SOCK ...;`), for starting (`eval "$(postern agent)"`) and for
 * stopping (`eval "$(postern agent -k)"`).
 *
 * @module
 */

/** Which shell the printed lines are for. */
export type ShellSyntax = "sh" | "csh";

/**
 * The syntax ssh-agent would pick: `-c` or `-s` when given, else C shell when
 * `$SHELL` ends in `csh` (csh, tcsh), else Bourne.
 *
 * @param forced `"csh"` for `-c`, `"sh"` for `-s`, `undefined` for neither
 * @param shell the value of `$SHELL`
 * @example
 * ```ts
 * shellSyntax(undefined, "/bin/tcsh"); // "csh"
 * ```
 */
export function shellSyntax(
  forced: ShellSyntax | undefined,
  shell: string | undefined,
): ShellSyntax {
  return forced ?? (shell?.endsWith("csh") ? "csh" : "sh");
}

/**
 * What ssh-agent prints on start, so that `eval` sets `SSH_AUTH_SOCK` and
 * `SSH_AGENT_PID`. The path is single-quoted when it holds characters a shell
 * would interpret, so evaluating the output is safe for any path. There is no
 * trailing newline: print it with `console.log`.
 *
 * @param socketPath the agent's socket
 * @param pid the process id serving it
 * @param syntax the shell the lines are for
 * @returns three lines: the socket, the pid and `echo Agent pid <pid>;`
 * @example
 * ```ts
 * agentShellLines("/tmp/postern-agent-x/agent.sock", 4242, "sh");
 * // SSH_AUTH_SOCK=/tmp/postern-agent-x/agent.sock; export SSH_AUTH_SOCK;
 * // SSH_AGENT_PID=4242; export SSH_AGENT_PID;
 * // echo Agent pid 4242;
 * ```
 */
export function agentShellLines(socketPath: string, pid: number, syntax: ShellSyntax): string {
  const set = (name: string, value: string) =>
    syntax === "csh" ? `setenv ${name} ${value};` : `${name}=${value}; export ${name};`;
  return [
    set("SSH_AUTH_SOCK", shellQuote(socketPath)),
    set("SSH_AGENT_PID", String(pid)),
    `echo Agent pid ${pid};`,
  ].join("\n");
}

/**
 * What `ssh-agent -k` prints after stopping an agent: lines that unset its
 * variables.
 *
 * @param pid the process id that was stopped
 * @param syntax the shell the lines are for
 * @example
 * ```ts
 * agentKillLines(4242, "sh");
 * // unset SSH_AUTH_SOCK;
 * // unset SSH_AGENT_PID;
 * // echo Agent pid 4242 killed;
 * ```
 */
export function agentKillLines(pid: number, syntax: ShellSyntax): string {
  const unset = syntax === "csh" ? "unsetenv" : "unset";
  return [
    `${unset} SSH_AUTH_SOCK;`,
    `${unset} SSH_AGENT_PID;`,
    `echo Agent pid ${pid} killed;`,
  ].join("\n");
}

function shellQuote(text: string): string {
  if (/^[A-Za-z0-9_.\/:@%+=,-]+$/.test(text)) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
