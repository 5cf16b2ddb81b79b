/**
 * A real OpenSSH `sshd` for integration tests, plus thin wrappers around the
 * `ssh` and `ssh-keygen` binaries.
 *
 * Each {@link startSshd} call runs its own `/usr/sbin/sshd -D -e` on a free
 * loopback port, with a host key and config in a fresh temporary folder. Nodes in
 * postern are plain sshd servers that trust the user CA, so this is what the proxy
 * talks to in tests. Servers are stopped by `stop()`, by `await using`, and as a
 * last resort when the Deno process unloads, so a failing test never leaks one.
 *
 * @example
 * ```ts
 * await using sshd = await startSshd({ trustedUserCAKeys: caPub });
 * const result = await runSsh([...defaultSshOptions, "-p", `${sshd.port}`, "root@127.0.0.1", "true"]);
 * ```
 *
 * @module
 */

import { freePort } from "./ports.ts";

/** Kinds of host key {@link startSshd} can generate. */
export type HostKeyType = "ed25519" | "ecdsa" | "rsa";

/** Options of {@link startSshd}. */
export interface SshdOptions {
  /** One or more CA public key lines (`ssh-ed25519 AAAA...`) for `TrustedUserCAKeys`. */
  trustedUserCAKeys?: string;
  /**
   * Type of the generated host key.
   * @default {"ed25519"}
   */
  hostKeyType?: HostKeyType;
  /** A host private key (OpenSSH PEM) to use instead of generating one. */
  hostKey?: string;
  /**
   * A host certificate line for `HostCertificate`. As the host key is usually
   * generated here, a function receives the host public key line and returns the
   * certificate signed for it.
   */
  hostCertificate?: string | ((hostKeyPub: string) => string | Promise<string>);
  /**
   * Extra `sshd_config` lines. sshd keeps the first value it reads for a keyword,
   * so these are written before the defaults and override them; a `Match` block
   * (from its `Match` line on) is written at the end.
   */
  extraConfig?: string[];
}

/** A running sshd started by {@link startSshd}. */
export interface Sshd extends AsyncDisposable {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** Its temporary folder: config, host key, logs of keys made by the test. */
  readonly dir: string;
  /** Its host public key line (`ssh-ed25519 AAAA... `). */
  readonly hostKeyPub: string;
  /** Path of its host private key. */
  readonly hostKeyPath: string;
  /** Path of its sshd_config. */
  readonly configPath: string;
  /** Stops the server and its per-connection processes. Safe to call twice. */
  stop(): Promise<void>;
  /** Everything sshd logged on stderr so far (LogLevel VERBOSE). */
  logs(): string;
}

/** Output of a finished `ssh` or `ssh-keygen` run. */
export interface RunResult {
  /** Exit code; 255 for ssh's own errors, -1 if the run was killed on timeout. */
  code: number;
  /** Standard output, decoded as UTF-8. */
  stdout: string;
  /** Standard error, decoded as UTF-8. */
  stderr: string;
  /** True when the process was killed after `timeoutMs`. */
  timedOut: boolean;
}

/** Options of {@link runSsh} and {@link sshKeygen}. */
export interface RunOptions {
  /** Text or bytes written to the process's standard input, which is then closed. */
  stdin?: string | Uint8Array;
  /**
   * Kill the process after this long.
   * @default {15000}
   */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * `ssh` options that suit tests: no config file, no prompts, no known_hosts, a
 * 5 s connect timeout. Add `-p`, `-i`, `-o CertificateFile=...` and the destination.
 *
 * @param logLevel `ERROR` shows only failures; `INFO` (OpenSSH's default) also
 *   shows userauth banners and why a channel was refused
 * @returns the options, a fresh array
 * @example
 * ```ts
 * const r = await runSsh([...sshTestOptions("INFO"), "-p", "2222", "root@127.0.0.1", "true"]);
 * ```
 */
export function sshTestOptions(logLevel: "ERROR" | "INFO"): string[] {
  return [
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    `LogLevel=${logLevel}`,
    "-o",
    "ConnectTimeout=5",
  ];
}

/** {@link sshTestOptions} at LogLevel ERROR: quiet but for failures. */
export const defaultSshOptions: readonly string[] = sshTestOptions("ERROR");

const SSHD = "/usr/sbin/sshd";
const live = new Set<Deno.ChildProcess>();
let unloadHookInstalled = false;

/**
 * Starts a real OpenSSH server on a free port of 127.0.0.1 and waits until it
 * sends its `SSH-2.0` banner. Only certificate logins are possible by default
 * (`AuthorizedKeysFile none`, no passwords), as on a postern node; root may log in.
 *
 * @param options CA to trust, host key type and certificate, extra config lines
 * @returns the running server; stop it with `stop()` or `await using`
 * @throws Error with sshd's log when it exits or does not answer within 10 s
 * @example
 * ```ts
 * await using sshd = await startSshd({ trustedUserCAKeys: caPub });
 * console.log(sshd.port, sshd.hostKeyPub);
 * ```
 */
export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  installUnloadHook();
  await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await Deno.makeTempDir({ prefix: "postern-sshd-" });
  const hostKeyPath = `${dir}/host_key`;
  let hostKeyPub: string;
  if (options.hostKey !== undefined) {
    await Deno.writeTextFile(hostKeyPath, ensureNewline(options.hostKey), { mode: 0o600 });
    hostKeyPub = (await sshKeygen(["-y", "-f", hostKeyPath])).stdout.trim();
    await Deno.writeTextFile(`${hostKeyPath}.pub`, `${hostKeyPub}\n`);
  } else {
    await sshKeygen(["-q", "-N", "", ...keyTypeArgs(options.hostKeyType), "-f", hostKeyPath]);
    hostKeyPub = (await Deno.readTextFile(`${hostKeyPath}.pub`)).trim();
  }

  const lines: string[] = [];
  const extra = options.extraConfig ?? [];
  const matchAt = extra.findIndex((line) => /^\s*match\s/i.test(line));
  const extraBefore = matchAt < 0 ? extra : extra.slice(0, matchAt);
  const extraAfter = matchAt < 0 ? [] : extra.slice(matchAt);
  lines.push(...extraBefore);
  if (options.hostCertificate !== undefined) {
    const cert = typeof options.hostCertificate === "string"
      ? options.hostCertificate
      : await options.hostCertificate(hostKeyPub);
    await Deno.writeTextFile(`${hostKeyPath}-cert.pub`, ensureNewline(cert.trim()));
    lines.push(`HostCertificate ${hostKeyPath}-cert.pub`);
  }
  if (options.trustedUserCAKeys !== undefined) {
    await Deno.writeTextFile(`${dir}/user_ca.pub`, ensureNewline(options.trustedUserCAKeys.trim()));
    lines.push(`TrustedUserCAKeys ${dir}/user_ca.pub`);
  }
  const port = freePort();
  lines.push(
    "ListenAddress 127.0.0.1",
    `Port ${port}`,
    `HostKey ${hostKeyPath}`,
    "AuthorizedKeysFile none",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "PidFile none",
    "LogLevel VERBOSE",
    "PermitRootLogin yes",
    "AcceptEnv LANG LC_* TERM",
    // Tests log in as root, whose ~/.bashrc on a developer machine may run
    // pyenv: its rehash waits on a lock that a session killed mid-rehash
    // leaves behind, and says so on stderr. Bash sources ~/.bashrc for a
    // command run by sshd only as a top-level shell: SHLVL=1 makes it the
    // second level, so commands run without it. Login shells (a terminal)
    // still read it; the rehash wait is bounded for them.
    "SetEnv SHLVL=1 PYENV_REHASH_TIMEOUT=1",
    "MaxStartups 64",
    "MaxSessions 64",
    "Subsystem sftp internal-sftp",
    ...extraAfter,
  );
  const configPath = `${dir}/sshd_config`;
  await Deno.writeTextFile(configPath, lines.join("\n") + "\n");

  const child = new Deno.Command(SSHD, {
    args: ["-D", "-e", "-f", configPath],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  live.add(child);
  let log = "";
  const logDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      // Bounded: a chatty test must not grow the log without limit.
      if (log.length < 4_000_000) log += decoder.decode(chunk, { stream: true });
    }
  })().catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    live.delete(child);
    return s;
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        killSessionProcesses(child.pid);
        try {
          child.kill("SIGTERM");
        } catch {
          // Already gone.
        }
      }
      await status;
      await logDone;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopping;
  };

  try {
    await waitForBanner(port, () => exited, 10_000);
  } catch (error) {
    await stop();
    throw new Error(`Cannot start sshd on port ${port}: ${(error as Error).message}\n${log}`);
  }

  return {
    port,
    dir,
    hostKeyPub,
    hostKeyPath,
    configPath,
    stop,
    logs: () => log,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Runs `ssh-keygen` with `args`.
 *
 * @param args command-line arguments, e.g. `["-q", "-t", "ed25519", "-N", "", "-f", path]`
 * @param options stdin, timeout, and `allowFailure` to return a non-zero exit instead of throwing
 * @returns exit code and output
 * @throws Error with ssh-keygen's stderr when it fails, unless `allowFailure`
 * @example
 * ```ts
 * await sshKeygen(["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ca`]);
 * ```
 */
export async function sshKeygen(
  args: string[],
  options: RunOptions & { allowFailure?: boolean } = {},
): Promise<RunResult> {
  const result = await run("ssh-keygen", args, options);
  if (result.code !== 0 && !options.allowFailure) {
    throw new Error(
      `Cannot run ssh-keygen ${args.join(" ")}: exit ${result.code}: ${result.stderr}`,
    );
  }
  return result;
}

/**
 * Runs the OpenSSH client `ssh` with `args`, never throwing for a failed login or
 * command: assert on the result. Combine with {@link defaultSshOptions}.
 *
 * @param args command-line arguments
 * @param options stdin, timeout (default 15 s), environment
 * @returns exit code and output; `timedOut` if it had to be killed
 * @example
 * ```ts
 * const r = await runSsh([...defaultSshOptions, "-p", "2222", "root@127.0.0.1", "echo ok"]);
 * ```
 */
export function runSsh(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run("ssh", args, options);
}

/** A key pair written by {@link newKeyPair}. */
export interface KeyPairFiles {
  /** Path of the private key (OpenSSH format, no passphrase). */
  path: string;
  /** Path of the public key (`path` + `.pub`). */
  pubPath: string;
  /** The public key line. */
  pub: string;
  /** The private key file content. */
  privatePem: string;
}

/**
 * Generates a key pair with `ssh-keygen` in `dir`.
 *
 * @param dir folder to write `name` and `name.pub` into
 * @param name file name of the private key
 * @param type key type
 * @returns paths and contents
 * @example
 * ```ts
 * const ca = await newKeyPair(dir, "ca");
 * ```
 */
export async function newKeyPair(
  dir: string,
  name: string,
  type: HostKeyType = "ed25519",
): Promise<KeyPairFiles> {
  const path = `${dir}/${name}`;
  await sshKeygen(["-q", "-N", "", "-C", name, ...keyTypeArgs(type), "-f", path]);
  return {
    path,
    pubPath: `${path}.pub`,
    pub: (await Deno.readTextFile(`${path}.pub`)).trim(),
    privatePem: await Deno.readTextFile(path),
  };
}

/** Options of {@link signUserKey}. */
export interface SignUserKeyOptions {
  /** Private key file of the CA. */
  caPath: string;
  /** Public key file to certify; the certificate is written beside it as `-cert.pub`. */
  pubPath: string;
  /** Principals (logins), e.g. `["root"]`. */
  principals: string[];
  /**
   * Key identity (`-I`), shown in sshd's log.
   * @default {"test"}
   */
  identity?: string;
  /**
   * Validity interval (`-V`), e.g. `"+5m"` or `"-1h:-1m"` for an expired one.
   * @default {"+5m"}
   */
  validity?: string;
  /** Sign a host certificate instead of a user one. */
  host?: boolean;
}

/**
 * Signs a public key with `ssh-keygen -s` and returns the certificate line.
 *
 * @param options CA, key, principals, validity
 * @returns the certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA...`)
 * @example
 * ```ts
 * const cert = await signUserKey({ caPath: ca.path, pubPath: user.pubPath, principals: ["root"] });
 * ```
 */
export async function signUserKey(options: SignUserKeyOptions): Promise<string> {
  await sshKeygen([
    "-q",
    "-s",
    options.caPath,
    "-I",
    options.identity ?? "test",
    ...(options.host ? ["-h"] : []),
    "-n",
    options.principals.join(","),
    "-V",
    options.validity ?? "+5m",
    options.pubPath,
  ]);
  const certPath = options.pubPath.replace(/\.pub$/, "") + "-cert.pub";
  return (await Deno.readTextFile(certPath)).trim();
}

/** Keys for tests that log in with a user certificate, made by {@link newCertifiedUser}. */
export interface CertifiedUser {
  /** A temporary folder holding the keys, removed when the process unloads; room for more. */
  dir: string;
  /** The user CA (`ca`, `ca.pub`), for `startSshd({ trustedUserCAKeys: ca.pub })`. */
  ca: KeyPairFiles;
  /** The user's ed25519 key pair (`user`, `user.pub`). */
  user: KeyPairFiles;
  /** The user's certificate line, signed by `ca` for the principal `root`, valid 5 minutes. */
  cert: string;
}

/**
 * Makes a temporary folder with a user CA, a user key and its certificate for
 * `root`: what a test needs to log in to {@link startSshd}'s sshd as postern users do.
 *
 * @param prefix name prefix of the temporary folder
 * @returns the folder, the CA, the user's key and certificate
 * @example
 * ```ts
 * const { ca, user, cert } = await newCertifiedUser("postern-example-");
 * await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
 * ```
 */
export async function newCertifiedUser(prefix: string): Promise<CertifiedUser> {
  const dir = await Deno.makeTempDir({ prefix });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  const ca = await newKeyPair(dir, "ca");
  const user = await newKeyPair(dir, "user");
  const cert = await signUserKey({ caPath: ca.path, pubPath: user.pubPath, principals: ["root"] });
  return { dir, ca, user, cert };
}

function keyTypeArgs(type: HostKeyType = "ed25519"): string[] {
  switch (type) {
    case "ed25519":
      return ["-t", "ed25519"];
    case "ecdsa":
      return ["-t", "ecdsa", "-b", "256"];
    case "rsa":
      return ["-t", "rsa", "-b", "2048"];
  }
}

function ensureNewline(text: string): string {
  return text.endsWith("\n") ? text : text + "\n";
}

async function run(cmd: string, args: string[], options: RunOptions): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, options.timeoutMs ?? 15_000);
  try {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      const bytes = typeof options.stdin === "string"
        ? new TextEncoder().encode(options.stdin)
        : options.stdin;
      await writer.write(bytes).catch(() => {});
      await writer.close().catch(() => {});
    }
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: timedOut ? -1 : out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

async function waitForBanner(
  port: number,
  hasExited: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error("sshd exited");
    let conn: Deno.Conn | undefined;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const banner = await readBanner(conn, Math.max(100, deadline - Date.now()));
      if (banner.startsWith("SSH-2.0")) return;
      last = `unexpected banner ${JSON.stringify(banner)}`;
    } catch (error) {
      last = (error as Error).message;
    } finally {
      conn?.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no SSH banner within ${timeoutMs} ms (${last})`);
}

async function readBanner(conn: Deno.Conn, timeoutMs: number): Promise<string> {
  const buf = new Uint8Array(256);
  let text = "";
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // Closed by the caller already.
    }
  }, timeoutMs);
  try {
    while (!text.includes("\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/**
 * sshd keeps per-connection processes alive when the listener gets SIGTERM (so a
 * restart does not drop sessions). Tests want them gone: kill the listener's
 * children, found through /proc.
 */
function killSessionProcesses(pid: number): void {
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // Field 4 (ppid) follows the parenthesised command name, which may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) Deno.kill(Number(entry.name), "SIGTERM");
    } catch {
      // The process ended meanwhile.
    }
  }
}

function installUnloadHook(): void {
  if (unloadHookInstalled) return;
  unloadHookInstalled = true;
  globalThis.addEventListener("unload", () => {
    for (const child of live) {
      killSessionProcesses(child.pid);
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }
  });
}
