/**
 * Session channels on the gateway: for `login:node` users, a proxy-terminated
 * session on the node (pty, env, window changes, signals, exit status, agent
 * forwarding) or its `sftp` subsystem (./file_transfer.ts); for plain logins,
 * `join <session-id> [observer|peer]` to watch or share a live session.
 * Everything else gets a one-line explanation.
 *
 * @module
 */

import type { Connection, ServerChannel, Session } from "ssh2";
import type { NodeSession, NodeSessionDeps, OwnerSink, SessionRequest } from "../node_session.ts";
import { startNodeSession } from "../node_session.ts";
import { nodeLoginCredentials } from "../node_login.ts";
import { joinTarget } from "../session_lookup.ts";
import type { PartyMode, PartySink } from "../../session/hub.ts";
import { BacklogWaiters } from "../../session/backlog.ts";
import type { Authenticated } from "./authenticate.ts";
import { failChannel, userMessage } from "./messages.ts";
import { runFileTransfer } from "./file_transfer.ts";
import { AGENT_FORWARDING_DENIED, ForwardedAgent } from "./agent_forwarding.ts";
import { rateLimited } from "../../metrics/metrics.ts";

/** Environment variables passed through to the node. */
const PASSED_ENV = /^(TERM|LANG|LC_[A-Z_]+|COLORTERM)$/;
/** How long the end of a session waits for stdout, then stderr, to be sent before it ends anyway. */
const STDERR_FLUSH_GRACE_MS = 2_000;

/** Collected channel requests before the shell or exec starts. */
interface PendingRequest {
  pty: SessionRequest["pty"];
  env: Record<string, string>;
  /** Agent forwarding (`ssh -A`): accepted, refused by the user's roles, or not asked. */
  agent: "accepted" | "refused" | null;
  /** Set once the session starts: where window changes go from then on. */
  onResize?: (cols: number, rows: number) => void;
}

/**
 * Runs `step` once stdout has sent what it holds (or after a grace period),
 * so that a channel's last words (a reason, the exit status) follow its
 * output. (Both streams waiting for window at once is safe since
 * lib/net/ssh2_channel_window.ts; before, ssh2 1.17 could lose one's wake-up.)
 */
function afterStdout(stream: ServerChannel, step: () => void): void {
  if (!stream.writableNeedDrain) return step();
  const stuck = setTimeout(step, STDERR_FLUSH_GRACE_MS);
  stream.once("drain", () => {
    clearTimeout(stuck);
    step();
  });
  // A client that left never drains: nothing left to say, no timer left behind.
  stream.once("close", () => clearTimeout(stuck));
}

/** Writes `[postern: reason]` on stderr once stdout has drained. */
function tellReason(stream: ServerChannel, reason: string): void {
  afterStdout(stream, () => {
    if (stream.stderr.writableEnded) return;
    try {
      stream.stderr.write(`\r\n[postern: ${reason}]\r\n`);
    } catch { /* client gone */ }
  });
}

/**
 * Sends the exit status and ends the channel once stdout has drained, and
 * stderr too: ssh2 closes the channel as soon as stdout has finished,
 * dropping stderr still waiting for window (such as the reason).
 */
function endChannel(stream: ServerChannel, code: number | null, signal?: string): void {
  // Registered after tellReason(): the reason is written first.
  afterStdout(stream, () => {
    try {
      if (code === null && signal) stream.exit(signal, false, "");
      else stream.exit(code ?? 255);
    } catch {
      // The client is gone, or ssh2 refused a signal name outside RFC 4254
      // (sshd sends "SIG@openssh.com" for those): then no exit status is
      // sent, and OpenSSH exits 255 as it does when connected directly.
    }
    const endStdout = () => {
      try {
        stream.end();
      } catch { /* client gone */ }
    };
    if (stream.stderr.writableLength === 0 || stream.stderr.writableFinished) {
      return endStdout();
    }
    const stuck = setTimeout(endStdout, STDERR_FLUSH_GRACE_MS);
    stream.stderr.once("finish", () => {
      clearTimeout(stuck);
      endStdout();
    });
    stream.once("close", () => clearTimeout(stuck));
    stream.stderr.end();
  });
}

function ownerSink(stream: ServerChannel): OwnerSink {
  // A write's callback runs once the client's window took it: the backlog shrank.
  const drained = new BacklogWaiters(() => stream.writableLength);
  // Output may still arrive while the session ends: a write after the end
  // would be an "error" event nobody listens to.
  return {
    write: (data) => void (!stream.writableEnded && stream.write(data, drained.shrank)),
    writeStderr: (data) => void (!stream.stderr.writableEnded && stream.stderr.write(data)),
    backlog: () => stream.writableLength,
    whenBacklogBelow: (bytes, listener) => drained.wait(bytes, listener),
    close: (reason) => tellReason(stream, reason),
    exit: (code, signal) => endChannel(stream, code, signal),
  };
}

/**
 * A sink for a party joined over SSH. Everything after the join goes on
 * stdout, in order with the output: notices and the reason its view ended
 * come after what was queued before them (up to the party backlog), and
 * stderr never waits for window beside stdout (see {@linkcode afterStdout}).
 */
function joinerSink(stream: ServerChannel): PartySink {
  const write = (data: Uint8Array | string) => void (!stream.writableEnded && stream.write(data));
  return {
    write,
    backlog: () => stream.writableLength,
    notify(event) {
      if (event.type === "party.join" || event.type === "party.leave") {
        const verb = event.type === "party.join" ? "joined" : "left";
        write(`\r\n[postern: ${event.user} ${verb} as ${event.mode}]\r\n`);
      }
    },
    close(reason) {
      write(`\r\n[postern: ${reason}]\r\n`);
      try {
        stream.exit(0);
        stream.end();
      } catch { /* client gone */ }
    },
  };
}

/** The shells and commands running on one connection, up to a limit. */
export class SessionCount {
  #running = 0;
  #drained: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Resolves once no session runs (at once when none does). */
  drained(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** What a user is told when the limit is reached. */
  refusal(): string {
    return `this connection already runs ${this.limit} sessions, the most the proxy allows on one connection; open another connection.`;
  }

  /**
   * Counts a channel's shell or command until the channel closes.
   *
   * @returns false, counting nothing, when the limit is reached
   */
  start(stream: ServerChannel): boolean {
    if (this.#running >= this.limit) return false;
    this.#running++;
    stream.once("close", () => {
      if (--this.#running > 0) return;
      for (const resolve of this.#drained.splice(0)) resolve();
    });
    return true;
  }
}

/** A subsystem request other than `proxy:<host>:<port>` on a session channel. */
export type SubsystemHandler = (
  accept: () => ServerChannel,
  reject: (() => void) | undefined,
  name: string,
) => void;

/**
 * Handles the session channels of one authenticated connection.
 *
 * @param user the connection the session channel belongs to
 * @returns the handler of its `sftp` (and unknown) subsystem requests
 */
export function handleSessions(
  user: Connection,
  session: Session,
  who: Authenticated,
  deps: NodeSessionDeps,
  remoteAddr: string,
  sessions: SessionCount,
): SubsystemHandler {
  const pending: PendingRequest = { pty: null, env: {}, agent: null };
  session.on("auth-agent", (accept, reject) => {
    if (!who.target.node) return void reject?.();
    pending.agent = who.identity.agentForwarding ? "accepted" : "refused";
    if (pending.agent === "accepted") accept?.();
    else reject?.();
  });
  session.on("pty", (accept, _reject, info) => {
    const term = (info as { term?: string }).term;
    pending.pty = { term: term || "xterm", cols: info.cols || 80, rows: info.rows || 24 };
    accept?.();
  });
  // Listened for from the start: a terminal resized while the proxy is still
  // logging in to the node must not keep the old size.
  session.on("window-change", (accept, _reject, info) => {
    accept?.();
    if (pending.onResize) pending.onResize(info.cols, info.rows);
    else if (pending.pty) pending.pty = { ...pending.pty, cols: info.cols, rows: info.rows };
  });
  session.on("env", (accept, reject, info) => {
    if (PASSED_ENV.test(info.key)) {
      pending.env[info.key] = info.val;
      accept?.();
    } else reject?.();
  });

  const start = (stream: ServerChannel, command: string | undefined) => {
    if (!sessions.start(stream)) {
      rateLimited.inc({ limit: "sessions_per_connection" });
      failChannel(stream, sessions.refusal());
    } else if (who.target.node) {
      void runTerminated(stream, command, pending, who, deps, remoteAddr, session, user);
    } else if (command !== undefined && /^join\s/.test(command.trim())) {
      void runJoin(stream, command.trim().split(/\s+/).slice(1), who, deps, remoteAddr);
    } else {
      failChannel(
        stream,
        "this is the postern SSH gateway. Connect to a node with `ssh -J <login>@<proxy>:3023 <login>@<node>`, " +
          "or open a recorded session with `ssh -p 3023 <login>:<node>@<proxy>`.",
      );
    }
  };
  // One shell or command per session channel (RFC 4254 §6.5): a second
  // request on the same channel is refused, as sshd does.
  let started = false;
  const once = (accept: () => ServerChannel, reject: (() => void) | undefined) => {
    if (started) return void reject?.();
    started = true;
    return accept();
  };
  session.on("shell", (accept, reject) => {
    const stream = once(accept, reject);
    if (stream) start(stream, undefined);
  });
  session.on("exec", (accept, reject, info) => {
    const stream = once(accept, reject);
    if (stream) start(stream, info.command);
  });
  return (accept, reject, name) => {
    if (name !== "sftp") return void reject?.();
    const stream = once(accept, reject);
    if (!stream) return;
    const node = who.target.node;
    if (!sessions.start(stream)) {
      failChannel(stream, sessions.refusal());
    } else if (node) {
      void runFileTransfer(stream, { ...who, target: { ...who.target, node } }, deps, remoteAddr);
    } else {
      failChannel(
        stream,
        "file transfer needs a node: use `sftp -P 3023 -o User=<login>:<node> <proxy>` " +
          "or `scp <file> scp://<login>:<node>@<proxy>:3023/<path>`.",
      );
    }
  };
}

async function runTerminated(
  stream: ServerChannel,
  command: string | undefined,
  pending: PendingRequest,
  who: Authenticated,
  deps: NodeSessionDeps,
  remoteAddr: string,
  session: Session,
  user: Connection,
): Promise<void> {
  // From the first moment: a client that leaves while the proxy is still
  // logging in to the node must not leave that node session behind.
  const clientLeft = new AbortController();
  stream.once("close", () => clientLeft.abort());
  let running: NodeSession | undefined;
  let resized: { cols: number; rows: number } | undefined;
  pending.onResize = (cols, rows) => {
    if (running) running.live.resize(running.ownerParty, cols, rows);
    else resized = { cols, rows };
  };
  try {
    const authorized = await deps.auth.authorizeNode(
      who.proof,
      who.target.node!,
      who.target.login,
    );
    const credentials = await nodeLoginCredentials(
      deps.auth,
      who.proof,
      who.target.login,
      who.validBefore,
    );
    const env = { ...pending.env, ...(pending.pty ? { TERM: pending.pty.term } : {}) };
    if (pending.agent === "refused") stream.stderr.write(`postern: ${AGENT_FORWARDING_DENIED}\r\n`);
    const agent = pending.agent === "accepted" ? new ForwardedAgent(user) : undefined;
    running = await startNodeSession(
      deps,
      authorized,
      credentials,
      { pty: pending.pty, command, env, agent },
      ownerSink(stream),
      { kind: "ssh", remoteAddr, signal: clientLeft.signal },
    );
    const started = running;
    if (resized) started.live.resize(started.ownerParty, resized.cols, resized.rows);
    stream.on("data", (data: Uint8Array) => started.live.input(started.ownerParty, data));
    stream.on("end", () => started.endInput());
    session.on("signal", (accept, _reject, info) => {
      started.signal(info.name);
      accept?.();
    });
    // Once input flows: the audit call may take a moment over the Auth API.
    if (pending.agent) {
      const refusal = pending.agent === "refused"
        ? AGENT_FORWARDING_DENIED
        : started.agentRefused?.message;
      await deps.auth.audit({
        code: "agent.forward",
        user: who.identity.user,
        remoteAddr,
        success: refusal === undefined,
        fields: {
          session_id: started.id,
          node: authorized.node.name,
          login: authorized.login,
          ...(refusal === undefined ? {} : { error: refusal }),
        },
      }).catch((error) =>
        deps.log.error("cannot audit agent forwarding", { error: String(error) })
      );
    }
    await started.done;
  } catch (error) {
    failChannel(stream, userMessage(error, deps.log));
  }
}

async function runJoin(
  stream: ServerChannel,
  args: string[],
  who: Authenticated,
  deps: NodeSessionDeps,
  remoteAddr: string,
): Promise<void> {
  try {
    const [id, requested = "observer"] = args;
    const target = await joinTarget(deps, who.proof, who.identity, id ?? "", requested);
    const { live } = target;
    let mode: PartyMode = target.mode;
    // Before any output: then stderr never waits for window beside stdout.
    stream.stderr.write(`[postern: joined session ${id} as ${mode}; press ~. to leave]\r\n`);
    const party = live.join(who.identity.user, mode, joinerSink(stream));
    stream.on("close", () => live.leave(party.id));
    await deps.auth.audit({
      code: "session.join",
      user: who.identity.user,
      remoteAddr,
      fields: { session_id: id, mode },
    });
    stream.on("data", (data: Uint8Array) => live.input(party.id, data));
    mode = party.mode;
  } catch (error) {
    failChannel(stream, userMessage(error, deps.log));
  }
}
