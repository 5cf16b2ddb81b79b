/**
 * `postern ssh` and `postern join`: an SSH connection to the proxy's gateway
 * with the user's certificate, running a recorded session on a node (user
 * name `login:node`) or joining a live one. With a terminal on stdin the
 * session gets a pty (raw mode, window size changes forwarded); otherwise the
 * command runs with stdin piped. The remote exit code becomes ours.
 *
 * @module
 */

import type { Client, ClientChannel } from "ssh2";
import { parseHostPort } from "../config/schema.ts";
import { AccessDenied, BadRequest, NotFound, Unavailable } from "../errors.ts";
import { listNodes } from "./commands.ts";
import { connectSsh, pinnedHostKey } from "../sshclient/mod.ts";
import { knownHostsPath, type LoadedKeys, loadKeys } from "./profile.ts";
import { parseCertificateLine } from "../sshcert/mod.ts";
import { writeAllSync } from "./io.ts";
import { type Forwards, type ForwardSpec, startForwards } from "./forwarding.ts";
import { isLabelSelector, sshMany } from "./ssh_many.ts";

/** Connects to the proxy's SSH gateway as `username`, verifying its pinned host key. */
export async function connectToProxy(
  keys: LoadedKeys,
  username: string,
  sshHostKey?: string,
): Promise<Client> {
  const addr = parseHostPort(keys.profile.sshProxy);
  if (!addr) {
    throw new Unavailable(`The profile's SSH proxy "${keys.profile.sshProxy}" is not host:port.`);
  }
  const hostKey = sshHostKey ?? await proxyHostKey(keys);
  return await connectSsh({
    host: addr.hostname,
    port: addr.port,
    address: `the postern proxy (${keys.profile.sshProxy})`,
    username,
    certificate: keys.certificate,
    privateKey: keys.privateKey,
    hostKeyVerifier: hostKey ? pinnedHostKey(hostKey) : () => true,
  });
}

/** The proxy's SSH host key as saved in ~/.tsh/known_hosts at login. */
async function proxyHostKey(keys: LoadedKeys): Promise<string | undefined> {
  const addr = parseHostPort(keys.profile.sshProxy)!;
  const name = addr.port === 22 ? addr.hostname : `[${addr.hostname}]:${addr.port}`;
  try {
    const lines = (await Deno.readTextFile(knownHostsPath())).split("\n");
    const line = lines.find((l) =>
      l.split(" ")[0] === name && l.endsWith(`postern-proxy:${keys.profile.proxy}`)
    );
    return line?.split(" ").slice(1, 3).join(" ");
  } catch {
    return undefined;
  }
}

/** Parses `[login@]node`; the default login is $USER when allowed, else the first allowed login. */
export function parseTarget(target: string, logins: string[]): { login: string; node: string } {
  const at = target.lastIndexOf("@");
  if (at > 0) return { login: target.slice(0, at), node: target.slice(at + 1) };
  const local = Deno.env.get("USER") ?? "";
  return { login: logins.includes(local) ? local : logins[0] ?? local, node: target };
}

function terminalSize(): { cols: number; rows: number } {
  try {
    const { columns, rows } = Deno.consoleSize();
    return { cols: columns, rows };
  } catch {
    return { cols: 80, rows: 24 };
  }
}

/** Runs `command` (or a shell) over the connection; resolves with the exit code. */
export async function runRemote(client: Client, command: string | undefined): Promise<number> {
  const interactive = Deno.stdin.isTerminal() && command === undefined ||
    Deno.stdin.isTerminal() && Deno.stdout.isTerminal() && command?.startsWith("join ");
  const size = terminalSize();
  const env = {
    TERM: Deno.env.get("TERM") ?? "xterm-256color",
    LANG: Deno.env.get("LANG") ?? "C.UTF-8",
  };
  const outcome = await new Promise<ChannelOutcome>((resolve, reject) => {
    // Listeners go on inside the callback: ssh2 may deliver data, exit and close
    // in the same tick as the channel confirmation.
    const done = (error: Error | undefined, channel: ClientChannel) =>
      error ? reject(error) : resolve(watchChannel(channel));
    const pty = interactive ? { term: env.TERM, cols: size.cols, rows: size.rows } : undefined;
    if (command === undefined) client.shell(pty ?? false, { env }, done);
    else client.exec(command, { env, ...(pty ? { pty } : {}) }, done);
  });
  return await pump(outcome, interactive === true);
}

interface ChannelOutcome {
  channel: ClientChannel;
  /** Resolves with the remote exit code (255 when none was sent) once the channel closes. */
  exitCode: Promise<number>;
}

function watchChannel(channel: ClientChannel): ChannelOutcome {
  let exitCode = 255;
  channel.on("exit", (code: number | null) => (exitCode = typeof code === "number" ? code : 255));
  channel.on("data", (data: Uint8Array) => writeAllSync(Deno.stdout, data));
  channel.stderr.on("data", (data: Uint8Array) => writeAllSync(Deno.stderr, data));
  return {
    channel,
    exitCode: new Promise((resolve) => channel.on("close", () => resolve(exitCode))),
  };
}

async function pump({ channel, exitCode }: ChannelOutcome, interactive: boolean): Promise<number> {
  const onResize = () => {
    const { cols, rows } = terminalSize();
    channel.setWindow(rows, cols, 0, 0);
  };
  if (interactive) {
    Deno.stdin.setRaw(true);
    Deno.addSignalListener("SIGWINCH", onResize);
  }
  void (async () => {
    const buffer = new Uint8Array(32 * 1024);
    for (;;) {
      const n = await Deno.stdin.read(buffer).catch(() => null);
      if (n === null) break;
      if (!channel.write(buffer.slice(0, n))) await new Promise((r) => channel.once("drain", r));
    }
    channel.end();
  })();
  try {
    return await exitCode;
  } finally {
    if (interactive) {
      Deno.removeSignalListener("SIGWINCH", onResize);
      Deno.stdin.setRaw(false);
    }
  }
}

/**
 * Opens an end-to-end SSH connection to the node through the proxy's
 * `proxy:` subsystem: the proxy only relays bytes; the node's pinned host key
 * (from `postern ls`) is verified here.
 */
async function connectThroughTunnel(
  keys: LoadedKeys,
  login: string,
  node: string,
): Promise<Client> {
  const nodes = await listNodes([]);
  const found = nodes.find((n) => n.name === node);
  if (!found) {
    throw new NotFound(`Node "${node}" is not among the nodes you may reach (postern ls).`);
  }
  const proxy = await connectToProxy(keys, login);
  const channel = await new Promise<ClientChannel>((resolve, reject) =>
    proxy.subsys(`proxy:${node}:22`, (error, stream) => error ? reject(error) : resolve(stream))
  );
  try {
    const client = await connectSsh({
      sock: channel,
      address: `node "${node}" (through the proxy)`,
      username: login,
      certificate: keys.certificate,
      privateKey: keys.privateKey,
      hostKeyVerifier: found.hostKey ? pinnedHostKey(found.hostKey) : () => true,
    });
    client.on("close", () => proxy.end());
    return client;
  } catch (error) {
    proxy.end();
    throw error;
  }
}

/** Options of {@linkcode ssh}. */
export interface SshOptions {
  /** End to end through the `proxy:` subsystem instead of a proxy-terminated session. */
  tunnel?: boolean;
  /** `-L` forwards. */
  localForwards?: ForwardSpec[];
  /** `-R` forwards. */
  remoteForwards?: ForwardSpec[];
  /** `-N`: run nothing, only forward ports until interrupted. */
  noCommand?: boolean;
}

/**
 * `postern ssh [--tunnel] [-L ...] [-R ...] [-N] [login@]node [command...]`,
 * or `postern ssh login@key=value[,...] command` on every matching node.
 */
export async function ssh(
  target: string,
  command: string[],
  options: SshOptions = {},
): Promise<number> {
  const keys = await loadKeys();
  const { login, node } = parseTarget(target, keys.profile.logins);
  const principals = parseCertificateLine(keys.certificate).certificate.principals;
  if (!principals.includes(login)) {
    throw new AccessDenied(
      `Your certificate does not allow login "${login}" (allowed: ${
        principals.join(", ") || "none"
      }).`,
    );
  }
  if (isLabelSelector(node)) {
    if (
      options.tunnel || options.noCommand || options.localForwards?.length ||
      options.remoteForwards?.length
    ) {
      throw new BadRequest(
        `A label selector (${node}) runs one command on many nodes: drop --tunnel, -N, -L and -R, or name one node.`,
      );
    }
    if (command.length === 0) {
      throw new BadRequest(
        `A label selector (${node}) needs a command: postern ssh ${login}@${node} <command>.`,
      );
    }
    return await sshMany(
      (username) => connectToProxy(keys, username),
      login,
      node,
      command.join(" "),
    );
  }
  const client = options.tunnel
    ? await connectThroughTunnel(keys, login, node)
    : await connectToProxy(keys, `${login}:${node}`);
  let forwards: Forwards | undefined;
  try {
    forwards = await startForwards(client, {
      local: options.localForwards ?? [],
      remote: options.remoteForwards ?? [],
    }, (line) => console.error(line));
    if (options.noCommand) return await untilInterrupted(client);
    return await runRemote(client, command.length ? command.join(" ") : undefined);
  } finally {
    forwards?.close();
    client.end();
  }
}

/**
 * `-N`: keeps the connection (and its forwards) until Ctrl-C or SIGTERM (exit
 * 0) or until the connection drops (exit 255, as OpenSSH).
 */
function untilInterrupted(client: Client): Promise<number> {
  return new Promise((resolve) => {
    const signals = ["SIGINT", "SIGTERM"] as const;
    const stop = (code: number) => {
      for (const signal of signals) Deno.removeSignalListener(signal, interrupted);
      resolve(code);
    };
    const interrupted = () => stop(0);
    for (const signal of signals) Deno.addSignalListener(signal, interrupted);
    client.on("close", () => stop(255));
  });
}

/** `postern join <id>`: watch (observer) or share (peer) a live session. */
export async function join(id: string, mode: "observer" | "peer"): Promise<number> {
  const keys = await loadKeys();
  // Any principal of the certificate will do: joining needs no login on the node.
  const login = parseCertificateLine(keys.certificate).certificate.principals[0] ??
    keys.profile.user;
  const client = await connectToProxy(keys, login);
  try {
    return await runRemote(client, `join ${id} ${mode}`);
  } finally {
    client.end();
  }
}
