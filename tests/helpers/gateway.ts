/**
 * Helpers for tests of the SSH gateway (:3023) from the outside: OpenSSH
 * options and config files that reach the proxy with a postern certificate,
 * an ssh2 client logged in to the proxy, a terminal that collects output,
 * and the audit log as parsed JSON.
 *
 * @module
 */

// @ts-types="@types/ssh2"
import type ssh2 from "ssh2";
import { join } from "node:path";
import { connectSsh } from "../../lib/sshclient/mod.ts";
import type { TestCluster, TestIdentity } from "./cluster.ts";
import { sshTestOptions } from "./sshd.ts";

/**
 * `ssh` options for tests where the user must see what the proxy says: like
 * `defaultSshOptions` but at LogLevel INFO, the level at which OpenSSH prints
 * userauth banners (at ERROR it hides them).
 */
export const visibleSshOptions: readonly string[] = [
  ...sshTestOptions("INFO"),
  "-o",
  "IdentitiesOnly=yes",
];

/** Options that log in to the proxy with `identity` (key + certificate). */
export function identityOptions(identity: { keyPath: string; certPath?: string }): string[] {
  return [
    "-i",
    identity.keyPath,
    ...(identity.certPath ? ["-o", `CertificateFile=${identity.certPath}`] : []),
  ];
}

/**
 * Writes an `ssh -F` config in which `proxy` is the gateway and every host is
 * reached with `identity`. Needed for ProxyJump: options given with `-o` are
 * not passed to the jump connection, a config file is. Use `logLevel` INFO
 * (OpenSSH's default) to see channel-open failure reasons.
 *
 * @returns the config file path
 */
export async function writeSshConfig(
  cluster: TestCluster,
  identity: TestIdentity,
  name = "ssh_config",
  logLevel = "ERROR",
): Promise<string> {
  const path = join(cluster.dir, name);
  await Deno.writeTextFile(
    path,
    [
      "Host proxy",
      "  HostName 127.0.0.1",
      `  Port ${cluster.postern.sshPort}`,
      "Host *",
      "  StrictHostKeyChecking no",
      "  UserKnownHostsFile /dev/null",
      "  BatchMode yes",
      `  LogLevel ${logLevel}`,
      "  ConnectTimeout 5",
      "  IdentitiesOnly yes",
      `  IdentityFile ${identity.keyPath}`,
      `  CertificateFile ${identity.certPath}`,
      "",
    ].join("\n"),
  );
  return path;
}

/** One audit event as `postern audit --json` prints it. */
export interface AuditEvent {
  time: string;
  code: string;
  user: string | null;
  success: boolean;
  [field: string]: unknown;
}

/** Runs `postern audit --json [--type <prefix>]` on the cluster's data dir. */
export async function auditEvents(cluster: TestCluster, type?: string): Promise<AuditEvent[]> {
  const result = await cluster.admin("audit", "--json", ...(type ? ["--type", type] : []));
  if (result.code !== 0) throw new Error(`postern audit failed: ${result.stderr}`);
  return result.stdout.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
}

/**
 * Polls the audit log until an event matches (audit writes may land just
 * after the client sees the end of a session).
 */
export async function waitForAudit(
  cluster: TestCluster,
  type: string,
  match: (event: AuditEvent) => boolean,
  timeoutMs = 10_000,
): Promise<AuditEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await auditEvents(cluster, type);
    const found = events.find(match);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no matching ${type} audit event in ${JSON.stringify(events)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Logs in to the gateway itself with ssh2 and the user's postern certificate.
 *
 * @param username `root` for tunnels, `root:saturn` for a terminated session
 */
export async function connectProxy(
  cluster: TestCluster,
  identity: TestIdentity,
  username: string,
): Promise<ssh2.Client> {
  return await connectSsh({
    host: "127.0.0.1",
    port: cluster.postern.sshPort,
    username,
    certificate: identity.cert,
    privateKey: await Deno.readTextFile(identity.keyPath),
    // The proxy's own host key is not what these tests are about.
    hostKeyVerifier: () => true,
    readyTimeoutMs: 10_000,
  });
}

/** Output of a running channel, collected as text. */
export class Collected {
  text = "";

  /** Appends decoded output. */
  add = (chunk: Uint8Array): void => {
    this.text += new TextDecoder().decode(chunk);
  };

  /**
   * Waits until the text matches `pattern`, looking only after `from`.
   *
   * @returns the match
   */
  async waitFor(pattern: RegExp, timeoutMs = 30_000, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text.slice(from));
      if (match) return match;
      if (Date.now() > deadline) {
        throw new Error(`no ${pattern} within ${timeoutMs} ms in ${JSON.stringify(this.text)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** An interactive process (`ssh`, `postern join`) with piped stdin, collected stdout and stderr. */
export interface SshProcess {
  stdout: Collected;
  stderr: Collected;
  /** Writes text to ssh's stdin. */
  type(text: string): Promise<void>;
  /** Closes stdin and waits for the exit code (kills after `timeoutMs`). */
  finish(timeoutMs?: number): Promise<number>;
  /** Waits for the exit code with stdin still open (kills after `timeoutMs`). */
  exited(timeoutMs?: number): Promise<number>;
  /** Sends `signal` to the process (SIGSTOP makes a client that stops reading). */
  kill(signal: Deno.Signal): void;
}

/** Spawns `ssh <args>` for interactive use (e.g. with `-tt`). */
export function spawnSsh(args: string[]): SshProcess {
  return spawnInteractive("ssh", args);
}

/** Spawns `program <args>` with piped stdin and collected output. */
export function spawnInteractive(
  program: string,
  args: string[],
  env?: Record<string, string>,
): SshProcess {
  const child = new Deno.Command(program, {
    args,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Collected();
  const stderr = new Collected();
  const pump = async (stream: ReadableStream<Uint8Array>, into: Collected) => {
    for await (const chunk of stream) into.add(chunk);
  };
  const pumps = Promise.all([pump(child.stdout, stdout), pump(child.stderr, stderr)]);
  const writer = child.stdin.getWriter();
  const exited = async (timeoutMs = 10_000) => {
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, timeoutMs);
    try {
      const status = await child.status;
      await pumps;
      await writer.close().catch(() => {});
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    stdout,
    stderr,
    type: (text) => writer.write(new TextEncoder().encode(text)),
    async finish(timeoutMs = 10_000) {
      await writer.close().catch(() => {});
      return await exited(timeoutMs);
    },
    exited,
    kill: (signal) => child.kill(signal),
  };
}
