/**
 * A proxy-terminated session: the proxy logs in to the node itself (with a
 * certificate minted for the user), opens a shell or runs a command, records
 * the output as asciicast, and registers the session in the hub so others
 * can join. The SSH gateway (`login:node@proxy`) and the web terminal both
 * drive sessions through this module.
 *
 * @module
 */

import type { Algorithms, BaseAgent, Client, ClientChannel } from "ssh2";
import type { AuthorizedNode, AuthService, NodeLoginCredentials } from "../auth/service.ts";
import { parseHostPort } from "../config/schema.ts";
import { Unavailable } from "../errors.ts";
import type { Logger } from "../log.ts";
import { LiveSession, type PartySink, type SessionHub } from "../session/hub.ts";
import { AsciicastRecorder, freeBytes, RecordingLimitReached } from "../session/recorder.ts";
import type { LiveConnections } from "./revocations.ts";
import { relayedBytes } from "../metrics/metrics.ts";
import type { ProxyRecordings } from "./recordings.ts";
import type { PeerAccess } from "./session_lookup.ts";
import { type NodeStatus, unreachableReason } from "./node_status.ts";
import type { SecretHash } from "../store/store.ts";
import { connectSsh, pinnedHostKey } from "../sshclient/mod.ts";
import type { HostKeyVerifier } from "../sshclient/mod.ts";
import { formatKeyLine } from "../sshcert/mod.ts";

/** How long a node gets to close its connection once the proxy ends a session. */
const NODE_CLOSE_GRACE_MS = 1_000;

/** Owner output queued beyond this pauses reading from the node. */
const OWNER_HIGH_WATER = 1 << 20;
const OWNER_LOW_WATER = 256 << 10;

/** What to run on the node. */
export interface SessionRequest {
  /** A pseudo-terminal, or null for a plain exec. */
  pty: { term: string; cols: number; rows: number } | null;
  /** The command; undefined for a login shell. */
  command?: string;
  /** Environment to pass (sshd accepts what its AcceptEnv allows). */
  env: Record<string, string>;
  /** The user's agent, forwarded to the node (`ssh -A`) when set. */
  agent?: BaseAgent;
}

/** Shared services of node sessions. */
export interface NodeSessionDeps {
  auth: AuthService;
  hub: SessionHub;
  connections: LiveConnections;
  log: Logger;
  recordings: ProxyRecordings;
  /** This proxy's id, which auth's session trackers name as the owner. */
  proxyId: string;
  /** This proxy's cluster identity, to join sessions other proxies run. */
  peer?: PeerAccess;
  recordInput: boolean;
  /** A session whose recording reaches this size is ended (0: no limit). */
  maxRecordingBytes: number;
  /** New sessions are refused while the recordings disk has less free space. */
  minFreeBytes: number;
  dialTimeoutMs: number;
  /** What the proxy offers nodes (`proxy.ssh_algorithms`). @default NODE_ALGORITHMS */
  nodeAlgorithms?: Algorithms;
  /** Told whether each node answered, for the nodes page. */
  nodeStatus?: NodeStatus;
}

/** How the session's owner receives output and the end. */
export interface OwnerSink extends PartySink {
  /** Output the node wrote to stderr (exec sessions). */
  writeStderr?(data: Uint8Array): void;
  /** The remote command ended. */
  exit(code: number | null, signal?: string): void;
  /**
   * Calls `listener` once, as soon as {@link PartySink.backlog} is below
   * `bytes` (at once when it already is).
   *
   * @returns cancels the call
   */
  whenBacklogBelow(bytes: number, listener: () => void): () => void;
}

/** A running session. */
export interface NodeSession {
  id: string;
  live: LiveSession;
  /** The owner's party id, for input and resize. */
  ownerParty: string;
  /** Set when the request forwarded an agent and the node refused it. */
  agentRefused?: Unavailable;
  /** Half-closes the node's stdin (exec with input). */
  endInput(): void;
  /** Delivers a signal (e.g. "INT") to the remote process. */
  signal(name: string): void;
  /** Ends the session from the proxy side; parties are told `reason` when given. */
  close(reason?: string): void;
  /** Resolves when the node side has closed and the recording is complete. */
  done: Promise<void>;
}

function hostKeyVerifier(deps: NodeSessionDeps, authorized: AuthorizedNode): HostKeyVerifier {
  const { node } = authorized;
  if (node.hostKey) return pinnedHostKey(node.hostKey);
  // A node declared in the config without a key: pin the first key seen (trust on first use).
  return async (blob) => {
    const type = new TextDecoder().decode(
      blob.subarray(4, 4 + new DataView(blob.buffer, blob.byteOffset).getUint32(0)),
    );
    await deps.auth.pinHostKey(node.name, formatKeyLine(type, blob));
    deps.log.info("pinned host key of node on first use", { node: node.name });
    return true;
  };
}

/**
 * Logs in to an authorised node as the proxy does on a user's behalf: with the
 * minted credentials, verifying the node's pinned host key.
 *
 * @param deps shared services (auth for pinning a first-seen key, dial timeout)
 * @param authorized the node and login that were authorised
 * @param credentials the certificate minted for that login
 * @param agent the agent sessions on this connection may forward to the node
 * @returns the connected client
 * @throws Unavailable with a one-line reason when the node cannot be reached or refuses
 */
export async function connectToNode(
  deps: NodeSessionDeps,
  authorized: AuthorizedNode,
  credentials: NodeLoginCredentials,
  agent?: BaseAgent,
): Promise<Client> {
  const { node, login } = authorized;
  const addr = parseHostPort(node.addr)!;
  const client = await connectSsh({
    host: addr.hostname,
    port: addr.port,
    address: `${node.name} (${node.addr})`,
    username: login,
    certificate: credentials.certificate,
    signer: credentials.signer,
    hostKeyVerifier: hostKeyVerifier(deps, authorized),
    readyTimeoutMs: deps.dialTimeoutMs,
    algorithms: deps.nodeAlgorithms,
    agent,
  }).catch((error) => {
    const reason = unreachableReason(error);
    if (reason !== undefined) deps.nodeStatus?.record(node.name, node.addr, reason);
    throw error;
  });
  deps.nodeStatus?.record(node.name, node.addr, null);
  return client;
}

/**
 * Refuses a new session while the recordings disk is nearly full: a session
 * that could not be recorded would be ended anyway, moments later.
 */
async function checkRecordingSpace(deps: NodeSessionDeps, node: string): Promise<void> {
  const dir = deps.recordings.dir;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    deps.log.error("cannot create the recordings directory", { error: String(error) });
    throw cannotRecord(node, error);
  }
  const free = await freeBytes(dir);
  if (free !== undefined && free < deps.minFreeBytes) {
    deps.log.error("recordings disk nearly full; refusing new sessions", {
      free_bytes: free,
      min_free_bytes: deps.minFreeBytes,
    });
    throw cannotRecord(node);
  }
}

function cannotRecord(node: string, cause?: unknown): Unavailable {
  return new Unavailable(
    `Cannot start the session on node "${node}": the proxy cannot record it (its disk for recordings is full or unwritable); ask its administrator to check the proxy's disk.`,
    { cause },
  );
}

/** The owner left while the proxy was still logging in to the node. */
function ownerLeft(): Unavailable {
  return new Unavailable("The client left before the session started.");
}

/**
 * Logs in to the node and opens the session; rejects with a user-facing error.
 *
 * @param meta.signal aborted when the owner's connection closes: a session
 *   still starting stops there, one already running ends, so an owner who
 *   leaves early never leaves a node session behind
 */
export async function startNodeSession(
  deps: NodeSessionDeps,
  authorized: AuthorizedNode,
  credentials: NodeLoginCredentials,
  request: SessionRequest,
  owner: OwnerSink,
  meta: {
    kind: "ssh" | "web";
    remoteAddr: string;
    signal?: AbortSignal;
    /** The web session a web terminal belongs to: signing out ends it. */
    webSessionHash?: SecretHash;
  },
): Promise<NodeSession> {
  const { node, login, identity } = authorized;
  const left = () => meta.signal?.aborted === true;
  if (left()) throw ownerLeft();
  await checkRecordingSpace(deps, node.name);
  const client = await connectToNode(deps, authorized, credentials, request.agent);
  let channel: ClientChannel;
  let exitStatus: ExitStatus;
  let agentRefused: AgentForwardingRefused | undefined;
  try {
    if (left()) throw ownerLeft();
    ({ channel, exitStatus } = await openChannel(client, request, node.name).catch((error) => {
      if (!request.agent || !(error instanceof AgentForwardingRefused)) throw error;
      // As OpenSSH does: a node that refuses the agent still gets the session.
      agentRefused = error;
      owner.writeStderr?.(new TextEncoder().encode(`postern: ${error.message}\r\n`));
      return openChannel(client, { ...request, agent: undefined }, node.name);
    }));
    if (left()) {
      channel.close();
      throw ownerLeft();
    }
  } catch (error) {
    client.end();
    throw error;
  }

  const id = crypto.randomUUID();
  const started = new Date();
  const cols = request.pty?.cols ?? 80;
  const rows = request.pty?.rows ?? 24;
  /** What the session's audit events all say. */
  const auditFields = { session_id: id, node: node.name, login };
  let recorder: AsciicastRecorder;
  try {
    recorder = await AsciicastRecorder.create(await deps.recordings.create(id), {
      cols,
      rows,
      started,
      title: `${identity.user}: ${login}@${node.name}`,
      env: { TERM: request.pty?.term ?? "", SHELL: "" },
    }, { recordInput: deps.recordInput, maxBytes: deps.maxRecordingBytes });
  } catch (error) {
    // Sessions through the proxy are always recorded: no recording, no session.
    client.end();
    deps.log.error("cannot create a session recording", { session_id: id, error: String(error) });
    throw cannotRecord(node.name, error);
  }

  const metricKind = meta.kind === "web" ? "web_terminal" : "ssh_session";
  const live = new LiveSession({
    id,
    user: identity.user,
    login,
    node: node.name,
    kind: meta.kind,
    started,
    cols,
    rows,
  }, {
    input(data) {
      recorder.input(data);
      relayedBytes.inc({ kind: metricKind, direction: "up" }, data.length);
      channel.write(data);
    },
    resize(newCols, newRows) {
      recorder.resize(newCols, newRows);
      channel.setWindow(newRows, newCols, 0, 0);
    },
  });
  let endReason: string | undefined;
  let closing = false;
  // Ends the whole connection to the node, not just the channel: sshd answers
  // a channel close only once the command has exited. ssh2 reports the
  // channel closed only once its output has been read, so output paused for
  // a slow owner flows again (recorded, no longer delivered), and a node that
  // does not answer the disconnect is cut off.
  const close = (reason?: string) => {
    endReason ??= reason;
    if (closing) return;
    closing = true;
    channel.close();
    client.end();
    channel.resume();
    // Cut off a node that does not answer; should ssh2 still not report the
    // channel closed (it waits for the end of output it holds), end anyway.
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    const cutOff = setTimeout(() => {
      client.destroy();
      giveUp = setTimeout(() => void ended(), NODE_CLOSE_GRACE_MS);
    }, NODE_CLOSE_GRACE_MS);
    channel.once("close", () => {
      clearTimeout(cutOff);
      clearTimeout(giveUp);
    });
  };
  const { promise: done, resolve: recorded } = Promise.withResolvers<void>();
  deps.hub.add(live, { terminate: close, done });
  const ownerParty = live.join(identity.user, "owner", owner).id;
  recorder.onFailure((error) => {
    deps.log.error("session recording failed; ending the session", {
      session_id: id,
      error: String(error),
    });
    void deps.auth.audit({
      code: "session.recording_failed",
      user: identity.user,
      remoteAddr: meta.remoteAddr,
      success: false,
      fields: { ...auditFields, error: error.message },
    });
    close(
      error instanceof RecordingLimitReached
        ? "the session's recording reached its size limit; session closed"
        : "recording unavailable; session closed",
    );
  });
  const untrack = deps.connections.track({
    user: identity.user,
    kind: meta.kind === "web" ? "web terminal" : "ssh session",
    webSessionHash: meta.webSessionHash,
    sessionId: id,
    close,
  });
  if (left()) close();
  else meta.signal?.addEventListener("abort", () => close(), { once: true });
  // Recorded while the handlers below are already listening: a channel that
  // closes meanwhile must still end the session.
  const startRecorded = (async () => {
    await deps.auth.recordSessionStart({
      id,
      user: identity.user,
      login,
      node: node.name,
      kind: meta.kind,
      started: started.getTime(),
      cols,
      rows,
      recordingPath: `${id}.cast`,
      proxyId: deps.proxyId,
    });
    await deps.auth.audit({
      code: "session.start",
      user: identity.user,
      remoteAddr: meta.remoteAddr,
      fields: {
        ...auditFields,
        kind: meta.kind,
        command: request.command ?? null,
      },
    });
  })();

  const deliver = (data: Uint8Array, toStderr: boolean) => {
    recorder.output(data);
    relayedBytes.inc({ kind: metricKind, direction: "down" }, data.length);
    if (closing) return;
    if (toStderr && owner.writeStderr) {
      owner.writeStderr(data);
      for (const party of live.parties.values()) if (party.sink !== owner) party.sink.write(data);
    } else {
      live.output(data);
    }
    if (owner.backlog() > OWNER_HIGH_WATER) waitForOwner(channel, owner);
  };
  channel.on("data", (data: Uint8Array) => deliver(data, false));
  channel.stderr.on("data", (data: Uint8Array) => deliver(data, true));

  let endedOnce = false;
  const ended = async () => {
    if (endedOnce) return;
    endedOnce = true;
    const { code: exitCode, signal: exitSignal } = exitStatus;
    if (endReason) owner.close(endReason);
    owner.exit(exitCode, exitSignal);
    live.end(exitCode, endReason);
    deps.hub.remove(id);
    untrack();
    client.end();
    await recorder.close();
    await startRecorded.catch(() => {});
    await deps.auth.recordSessionEnd(id, exitCode).catch((error) =>
      deps.log.error("cannot record session end", { session_id: id, error: String(error) })
    );
    await deps.auth.audit({
      code: "session.end",
      user: identity.user,
      remoteAddr: meta.remoteAddr,
      fields: {
        ...auditFields,
        exit_code: exitCode,
        signal: exitSignal ?? null,
        bytes: recorder.outputBytes,
        duration_ms: Date.now() - started.getTime(),
        ...(endReason ? { reason: endReason } : {}),
      },
    }).catch((error) =>
      deps.log.error("cannot audit session end", { session_id: id, error: String(error) })
    );
    await deps.recordings.finish(id);
    recorded();
  };
  channel.on("close", () => void ended());
  client.on("close", () => channel.destroy());
  try {
    await startRecorded;
  } catch (error) {
    close("The session could not be recorded; it was closed.");
    throw error;
  }

  return {
    id,
    live,
    ownerParty,
    agentRefused,
    endInput: () => channel.end(),
    signal: (name) => channel.signal(name),
    close,
    done,
  };
}

/** Pauses the node's output until the owner has drained below the low-water mark. */
function waitForOwner(channel: ClientChannel, owner: OwnerSink): void {
  if (channel.isPaused()) return;
  channel.pause();
  // The close listener goes with the pause: a long bulk transfer pauses
  // thousands of times.
  let cancel = () => {};
  const closed = () => cancel();
  channel.once("close", closed);
  cancel = owner.whenBacklogBelow(OWNER_LOW_WATER, () => {
    channel.off("close", closed);
    channel.resume();
  });
}

/** The node refused agent forwarding; the session may go on without it. */
class AgentForwardingRefused extends Unavailable {}

/** What the node refused, from ssh2's error text (which never reaches the user). */
function refusal(node: string, error: Error): Unavailable {
  if (/agent forwarding/.test(error.message)) {
    return new AgentForwardingRefused(
      `node "${node}" refused agent forwarding (its sshd's AllowAgentForwarding); the session runs without it.`,
      { cause: error },
    );
  }
  const what = /pseudo-terminal/.test(error.message)
    ? "a terminal (pty); run a command without -t, or ask its administrator about PermitTTY"
    : /Unable to exec/.test(error.message)
    ? "to run the command"
    : /Unable to open shell/.test(error.message)
    ? "to start a shell"
    : "to open a session channel";
  return new Unavailable(`Cannot start the session on node "${node}": it refused ${what}.`, {
    cause: error,
  });
}

/** How the remote command ended, filled in when the node says so. */
interface ExitStatus {
  code: number | null;
  signal?: string;
}

function openChannel(
  client: Client,
  request: SessionRequest,
  node: string,
): Promise<{ channel: ClientChannel; exitStatus: ExitStatus }> {
  return new Promise((resolve, reject) => {
    const agentForward = request.agent !== undefined;
    const options = {
      env: request.env,
      pty: request.pty
        ? { term: request.pty.term, cols: request.pty.cols, rows: request.pty.rows }
        : undefined,
    };
    const done = (error: Error | undefined, channel: ClientChannel) => {
      if (error) return reject(refusal(node, error));
      // Listen at once: ssh2 may deliver the exit status in the same tick as the
      // channel confirmation, before the caller's awaits are over.
      const exitStatus: ExitStatus = { code: null };
      channel.on("exit", (code: number | null, signal?: string) => {
        exitStatus.code = typeof code === "number" ? code : null;
        exitStatus.signal = signal;
      });
      resolve({ channel, exitStatus });
    };
    if (request.command !== undefined) {
      // ssh2 reads `agentForward` on exec and shell options; its types omit it.
      const execOptions = options.pty
        ? { env: options.env, pty: options.pty, agentForward }
        : { env: options.env, agentForward };
      client.exec(request.command, execOptions, done);
    } else {
      const shellOptions = { env: options.env, agentForward };
      client.shell(options.pty ?? false, shellOptions, done);
    }
  });
}
