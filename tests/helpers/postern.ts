/**
 * Starts a real `postern start` process on free loopback ports in a temp data
 * dir, for tests that check behaviour from the outside.
 *
 * @module
 */

import { join } from "node:path";
import { freePort } from "./ports.ts";

/** The repository root. */
export const ROOT = join(import.meta.dirname!, "..", "..");
/** main.ts, the entrypoint. */
export const MAIN = join(ROOT, "main.ts");

/**
 * The arguments of `deno` that run `postern start` from this checkout on a
 * config file and data dir, with V8's gc exposed as `deno task start` does.
 */
export function startArgs(configPath: string, dataDir: string): string[] {
  return [
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    MAIN,
    "start",
    "--config",
    configPath,
    "--data-dir",
    dataDir,
  ];
}

/**
 * Makes `postern` a command in `<dir>/bin` that runs this checkout, so that
 * README lines run as they are written.
 *
 * @returns the folder to put first on PATH
 */
export async function posternOnPath(dir: string): Promise<string> {
  const bin = join(dir, "bin");
  await Deno.mkdir(bin, { recursive: true });
  await Deno.writeTextFile(
    join(bin, "postern"),
    `#!/bin/sh\nexec ${Deno.execPath()} run -A ${MAIN} "$@"\n`,
    { mode: 0o755 },
  );
  return bin;
}

/** A running postern process. */
export interface PosternProcess extends AsyncDisposable {
  webPort: number;
  sshPort: number;
  /** The Auth API's port (`auth.listen_addr`). */
  authPort: number;
  /** The peer listener's port (`proxy.peer_listen_addr`), where other proxies join sessions. */
  peerPort: number;
  dataDir: string;
  configPath: string;
  /** The `https://127.0.0.1:<port>` base URL. */
  url: string;
  /** Everything the process wrote to stderr so far. */
  logs(): string;
  /** An HTTP client trusting exactly the proxy's certificate. */
  client(): Promise<Deno.HttpClient>;
  /** Sends SIGTERM and waits; returns the exit code. */
  stop(): Promise<number>;
  child: Deno.ChildProcess;
}

/** Options for {@linkcode startPosternProcess}. */
export interface StartOptions {
  /** Extra YAML appended to the generated config (after the proxy: section). */
  extraConfig?: string;
  /** `--log-format` for the process. */
  logFormat?: "text" | "json";
  /** Reuse a data dir (restart tests). */
  dataDir?: string;
  env?: Record<string, string>;
  /** Extra YAML lines for the generated config's auth: section (indented by two spaces). */
  authConfig?: string;
  /** Extra `postern start` arguments (`--roles proxy --auth-server ...`). */
  args?: string[];
  /** Reuse ports (restart tests). */
  ports?: { web: number; ssh: number; auth: number };
  /** A configured HTTPS certificate (several proxies share one behind a balancer). */
  tls?: { certFile: string; keyFile: string };
  /** Where users reach the proxy, when not its own ports (a load balancer in front). */
  publicAddrs?: { web: string; ssh: string };
  /**
   * The host name of `proxy.public_addr` with the proxy's own web port, when
   * not 127.0.0.1 (WebAuthn needs a domain name: `localhost`).
   */
  publicHost?: string;
  /** Runs the process under `ulimit -n <fileLimit>` (soft and hard). */
  fileLimit?: number;
}

/** Runs `deno run -A main.ts <args>` and collects its output. */
export async function runPostern(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Starts postern and waits until it says it is running. */
export async function startPosternProcess(options: StartOptions = {}): Promise<PosternProcess> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "postern-test-" });
  const webPort = options.ports?.web ?? freePort();
  const sshPort = options.ports?.ssh ?? freePort();
  const authPort = options.ports?.auth ?? freePort();
  const peerPort = freePort();
  const onlyAuth = options.args?.join(" ").includes("--roles auth") ?? false;
  const configPath = join(dataDir, "..", `postern-${webPort}.yaml`);
  await Deno.writeTextFile(
    configPath,
    [
      "auth:",
      `  listen_addr: 127.0.0.1:${authPort}`,
      ...(options.authConfig ? [options.authConfig] : []),
      "proxy:",
      `  web_listen_addr: 127.0.0.1:${webPort}`,
      `  ssh_listen_addr: 127.0.0.1:${sshPort}`,
      `  public_addr: ${
        options.publicAddrs?.web ?? `${options.publicHost ?? "127.0.0.1"}:${webPort}`
      }`,
      `  ssh_public_addr: ${options.publicAddrs?.ssh ?? `127.0.0.1:${sshPort}`}`,
      `  peer_listen_addr: 127.0.0.1:${peerPort}`,
      `  peer_public_addr: 127.0.0.1:${peerPort}`,
      options.extraConfig ?? "",
      ...(options.tls
        ? ["tls:", `  cert_file: ${options.tls.certFile}`, `  key_file: ${options.tls.keyFile}`]
        : []),
    ].join("\n"),
  );
  const command = [
    Deno.execPath(),
    ...startArgs(configPath, dataDir),
    ...(options.logFormat ? ["--log-format", options.logFormat] : []),
    ...(options.args ?? []),
  ];
  // `exec` keeps the process id: signals and /proc/<pid> reach postern itself.
  const [program, ...args] = options.fileLimit === undefined
    ? command
    : ["bash", "-c", `ulimit -n ${options.fileLimit} && exec "$@"`, "postern", ...command];
  const child = new Deno.Command(program, {
    args,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const { promise: running, resolve, reject } = Promise.withResolvers<void>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output += text;
      // "HTTPS certificate" is the line right after "postern is running": wait for
      // both so that tests see the whole startup output, fingerprint included.
      if (
        output.includes("postern is running") &&
        (onlyAuth || /HTTPS certificate\W+sha256/.test(output))
      ) {
        resolve();
      }
    }
  };
  const collecting = Promise.all([collect(child.stdout), collect(child.stderr)]);
  child.status.then((status) => reject(new Error(`postern exited (${status.code}):\n${output}`)));
  const timer = setTimeout(() => reject(new Error(`postern did not start:\n${output}`)), 30_000);
  try {
    await running;
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await collecting;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  let stopped: Promise<number> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      const status = await child.status;
      await collecting;
      return status.code;
    })();
    return stopped;
  };
  return {
    webPort,
    sshPort,
    authPort,
    peerPort,
    dataDir,
    configPath,
    url: `https://127.0.0.1:${webPort}`,
    child,
    logs: () => output,
    client: async () =>
      Deno.createHttpClient({
        caCerts: [
          await Deno.readTextFile(options.tls?.certFile ?? join(dataDir, "tls", "cert.pem")),
        ],
      }),
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
