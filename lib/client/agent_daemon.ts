/**
 * How `postern agent` runs, like ssh-agent: by default it starts itself again
 * as a detached process (new session, no terminal, stdin/stdout/stderr
 * released once the socket is listening), prints the shell lines and returns,
 * so that `eval "$(postern agent)"` ends at once; `-D` serves in the
 * foreground; `-k` stops the agent named by `$SSH_AGENT_PID`.
 *
 * A serving agent stops by itself, saying why when it still has a terminal:
 * when its certificate expires (exit 1), when `postern logout` removes the key
 * files (exit 0), or on SIGINT/SIGTERM (exit 0).
 *
 * The detached copy is the same command with `-D`, told by the
 * `POSTERN_AGENT_DETACH` environment variable to release its output once it
 * is listening. Deno has no fork(), so this is how it leaves the shell's
 * command substitution.
 *
 * @module
 */

import { selfInvocation } from "../cli/self.ts";
import { NotFound } from "../errors.ts";
import { startAgent } from "./agent.ts";
import { agentKillLines, agentShellLines, type ShellSyntax } from "./agent_shell.ts";
import { loadKeys } from "./profile.ts";

/** Set in the detached agent's environment: release stdout and stderr once listening. */
const DETACH_ENV = "POSTERN_AGENT_DETACH";
/** How often a serving agent checks that its key files are still there. */
const KEY_CHECK_INTERVAL_MS = 1000;

/** What `postern agent` was asked to do. */
export interface AgentRunOptions {
  socketPath?: string;
  syntax: ShellSyntax;
  foreground: boolean;
}

/**
 * Runs `postern agent`: serves in this process with `foreground`, else starts
 * the detached agent and prints its lines.
 *
 * @returns the exit code: 0 once stopped or started, 1 on an expired certificate
 *   or a detached agent that failed to start
 */
export async function runAgent(options: AgentRunOptions): Promise<number> {
  if (options.foreground || Deno.env.get(DETACH_ENV) === "1") return await serve(options);
  return await startDetached(options);
}

/**
 * `postern agent -k`: stops the agent of `$SSH_AGENT_PID` and prints the lines
 * that unset its variables.
 *
 * @throws {NotFound} when `SSH_AGENT_PID` is unset or names no running process
 */
export function killAgent(syntax: ShellSyntax): number {
  const pid = Number(Deno.env.get("SSH_AGENT_PID"));
  if (!Number.isInteger(pid) || pid <= 1) {
    throw new NotFound("SSH_AGENT_PID is not set, cannot stop the agent");
  }
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    throw new NotFound(`no agent runs as pid ${pid} (SSH_AGENT_PID)`);
  }
  console.log(agentKillLines(pid, syntax));
  return 0;
}

async function serve(options: AgentRunOptions): Promise<number> {
  const keys = await loadKeys();
  const agent = await startAgent({
    socketPath: options.socketPath,
    privateKey: keys.privateKey,
    certificate: keys.certificate,
    comment: `${keys.profile.user}@${keys.profile.proxy}`,
  });
  console.log(agentShellLines(agent.socketPath, Deno.pid, options.syntax));
  let say = (line: string) => console.error(line);
  if (Deno.env.get(DETACH_ENV) === "1") {
    Deno.stdout.close();
    Deno.stderr.close();
    say = () => {};
  }

  let exitCode = 0;
  const stop = (reason?: string, code = 0) => {
    if (reason) say(`postern agent: ${reason}`);
    exitCode = code;
    void agent.close();
  };
  const onSignal = () => stop();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  // An expired certificate only earns refusals from nodes: stop serving it.
  const expiry = atTime(keys.validBefore, () =>
    stop(
      `certificate expired at ${keys.validBefore.toISOString()}; ` +
        "run postern login and start the agent again",
      1,
    ));
  // After `postern logout` the user expects the key to be gone everywhere.
  const keyCheck = setInterval(() => {
    Deno.stat(keys.paths.certificate).catch(() =>
      stop(`the key of ${keys.profile.user} at ${keys.profile.proxy} was removed (postern logout)`)
    );
  }, KEY_CHECK_INTERVAL_MS);

  await agent.closed;
  clearTimeout(expiry.timer);
  clearInterval(keyCheck);
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  return exitCode;
}

/**
 * Starts this same command detached and waits until it has printed its lines
 * (then it is listening) or has failed (its error is on stderr and its exit
 * code is ours).
 */
async function startDetached(options: AgentRunOptions): Promise<number> {
  await loadKeys(); // No key: say so here, where the user still sees it.
  const args = ["agent", "-D", options.syntax === "csh" ? "-c" : "-s"];
  if (options.socketPath !== undefined) args.push("--socket", options.socketPath);
  const [program, ...prefix] = selfInvocation();
  const child = new Deno.Command(program, {
    args: [...prefix, ...args],
    env: { [DETACH_ENV]: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  // Read only until the lines are complete: the agent keeps its end of the
  // pipes open, so waiting for end-of-file would wait for the agent to stop.
  const stdout = await readUntil(child.stdout, /^echo Agent pid \d+;$/m);
  if (stdout !== null) {
    child.unref();
    void child.stderr.cancel();
    console.log(stdout.trimEnd());
    return 0;
  }
  await Deno.stderr.write(new Uint8Array(await new Response(child.stderr).arrayBuffer()));
  const { code } = await child.status;
  return code === 0 ? 1 : code;
}

/** Reads `stream` until its text matches `end` (returns the text) or it ends first (null). */
async function readUntil(stream: ReadableStream<Uint8Array>, end: RegExp): Promise<string | null> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return null;
      text += decoder.decode(value, { stream: true });
      if (end.test(text)) return text;
    }
  } finally {
    void reader.cancel().catch(() => {});
  }
}

/** Runs `callback` at `time` (timers cannot wait longer than ~24.8 days at once). */
function atTime(time: Date, callback: () => void): { timer?: ReturnType<typeof setTimeout> } {
  const handle: { timer?: ReturnType<typeof setTimeout> } = {};
  const arm = () => {
    const wait = time.getTime() - Date.now();
    if (wait <= 0) return callback();
    handle.timer = setTimeout(arm, Math.min(wait, 2 ** 31 - 1));
  };
  arm();
  return handle;
}
