/**
 * The web terminal benchmark (issue 7): keystroke echo latency over the
 * WebSocket terminal and output throughput of `cat` of a file through it,
 * beside the same `cat` through direct `ssh -tt` (a pty on both, so the node
 * does the same work).
 *
 * The WebSocket side runs in a child process (web_terminal_client.ts) whose
 * `DENO_CERT` is the proxy's self-signed certificate: Deno's WebSocket client
 * takes no CA option, and the certificate exists only once postern started.
 *
 * @module
 */

import { join } from "node:path";
import type { BenchEnv } from "./setup.ts";
import { mbps, median, percentile, round, shellQuote, timeCommand } from "./stats.ts";
import type { ClientConfig, ClientResult } from "./web_terminal_client.ts";

/** What {@link runWebTerminalBench} measured. */
export interface WebTerminalResult {
  keystrokes: number;
  latency_ms: { p50: number; p99: number; mean: number; max: number };
  cat: {
    file_mb: number;
    websocket_ms: number;
    websocket_mbps: number;
    /** Median wall time of `ssh -tt node cat file`, including the handshake. */
    ssh_ms: number;
    /** Median wall time of `ssh -tt node true`. */
    ssh_overhead_ms: number;
    ssh_mbps_raw: number;
    ssh_mbps_net: number;
  };
}

/** Options of {@link runWebTerminalBench}. */
export interface WebTerminalOptions {
  keystrokes: number;
  fileMb: number;
  /** Runs of the direct `ssh` comparison. */
  runs: number;
  log(line: string): void;
}

/**
 * Writes a text file of `mb` MB of lowercase lines (text, as a terminal
 * shows; no uppercase, so the end marker cannot occur in it).
 */
async function makeTextFile(path: string, mb: number): Promise<number> {
  const line = "the quick brown fox jumps over the lazy dog 0123456789 ".repeat(3).trimEnd() +
    "\n";
  const block = new TextEncoder().encode(line.repeat(Math.ceil((1 << 20) / line.length)));
  const total = mb * 1e6;
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  let written = 0;
  while (written < total) {
    const piece = block.subarray(0, Math.min(block.length, total - written));
    let offset = 0;
    while (offset < piece.length) offset += await file.write(piece.subarray(offset));
    written += piece.length;
  }
  return written;
}

/**
 * Measures latency and throughput of the web terminal, and the direct `ssh`
 * comparison.
 *
 * @param env the running environment
 * @param options counts and sizes
 * @returns the figures
 * @throws Error with the child's stderr when the WebSocket side fails
 */
export async function runWebTerminalBench(
  env: BenchEnv,
  options: WebTerminalOptions,
): Promise<WebTerminalResult> {
  const file = join(env.dir, "cat.txt");
  const bytes = await makeTextFile(file, options.fileMb);
  const web = await env.cluster.webLogin(env.user);
  const { webPort, dataDir } = env.cluster.postern;
  const query = new URLSearchParams({
    node: env.nodeName,
    login: "root",
    csrf: web.csrf,
    cols: "120",
    rows: "40",
  });
  const config: ClientConfig = {
    url: `wss://127.0.0.1:${webPort}/v1/webapi/sites/${
      encodeURIComponent(env.clusterName)
    }/connect?${query}`,
    cookie: web.cookie,
    origin: `https://127.0.0.1:${webPort}`,
    keystrokes: options.keystrokes,
    warmup: 20,
    file,
  };
  options.log(`  web terminal: ${options.keystrokes} keystrokes, cat of ${options.fileMb} MB...`);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(import.meta.dirname!, "web_terminal_client.ts"),
      JSON.stringify(config),
    ],
    env: { DENO_CERT: join(dataDir, "tls", "cert.pem") },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (output.code !== 0) {
    throw new Error(`The web terminal client failed: ${decoder.decode(output.stderr).trim()}`);
  }
  const lines = decoder.decode(output.stdout).trim().split("\n");
  const client = JSON.parse(lines[lines.length - 1]) as ClientResult;

  const target = `${env.ssh} -tt -p ${env.cluster.sshd.port} root@127.0.0.1`;
  const sshMs: number[] = [];
  const overheadMs: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    overheadMs.push((await timeCommand(`${target} true > /dev/null`)).ms);
    sshMs.push(
      (await timeCommand(`${target} ${shellQuote(`cat ${shellQuote(file)}`)} > /dev/null`)).ms,
    );
  }
  const ssh = median(sshMs);
  const overhead = median(overheadMs);
  const latencies = client.latencies_ms;
  return {
    keystrokes: latencies.length,
    latency_ms: {
      p50: round(percentile(latencies, 50), 2),
      p99: round(percentile(latencies, 99), 2),
      mean: round(latencies.reduce((a, b) => a + b, 0) / latencies.length, 2),
      max: round(Math.max(...latencies), 2),
    },
    cat: {
      file_mb: round(bytes / 1e6),
      websocket_ms: round(client.cat.ms),
      websocket_mbps: round(mbps(bytes, client.cat.ms)),
      ssh_ms: round(ssh),
      ssh_overhead_ms: round(overhead),
      ssh_mbps_raw: round(mbps(bytes, ssh)),
      ssh_mbps_net: round(mbps(bytes, ssh - overhead)),
    },
  };
}
