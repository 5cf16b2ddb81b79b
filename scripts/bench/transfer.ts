/**
 * Bulk transfer through each way of reaching the node: stock `ssh` moves
 * N MB node → client (`head -c N /dev/zero` on the node, output to /dev/null)
 * and client → node (`cat > /dev/null`), aes128-gcm on every hop. Each path's
 * fixed cost (connect, handshakes, auth, for (e) starting Deno) is measured
 * with an empty command (`true`) and reported beside the raw figure, so the
 * throughput "net of handshake" is `bytes / (time - overhead)`.
 *
 * Runs are interleaved (every path once, then again) so that load from other
 * processes on the machine spreads over all paths; medians are reported.
 *
 * @module
 */

import type { BenchEnv } from "./setup.ts";
import { mbps, median, processCpuMs, round, shellQuote, timeCommand } from "./stats.ts";

/** The ways to reach the node. */
export type PathId =
  | "direct"
  | "jump"
  | "subsystem"
  | "postern_jump"
  | "https"
  | "fast"
  | "recorded"
  | "recorded_tmpfs";

/** One way to reach the node, as `ssh` arguments. */
export interface TransferPath {
  id: PathId;
  label: string;
  /** Shell words after `ssh -F <config>`: proxy options and the destination. */
  target: string;
  /** Extra environment of the `ssh` process. */
  env?: Record<string, string>;
  /** Measure client → node as well. */
  upload: boolean;
  /**
   * Download a text file with `cat` instead of `head -c` of zeros: a recorded
   * session stores what it carries, and zeros would be stored escaped.
   */
  text?: boolean;
}

/** Figures for one path. */
export interface PathResult {
  id: PathId;
  label: string;
  /** Median wall time of `ssh ... true`, ms. */
  overhead_ms: number;
  down: DirectionResult;
  up?: DirectionResult;
}

/** Figures for one direction of one path. */
export interface DirectionResult {
  /** Wall times of every run, ms. */
  runs_ms: number[];
  /** Median wall time, ms. */
  median_ms: number;
  /** bytes / median time. */
  mbps_raw: number;
  /** bytes / (median time - median overhead). */
  mbps_net: number;
  /**
   * CPU the postern process spent per MB moved, median over the runs, ms (0
   * for the OpenSSH paths). Tells a slow run apart: more CPU per MB is the
   * proxy working harder; the same CPU per MB at a lower rate is the proxy
   * waiting (for a core, or for its peers).
   */
  proxy_cpu_ms_per_mb: number;
}

/**
 * The seven paths of the benchmark.
 *
 * @param env the running environment
 * @returns the paths, OpenSSH ones first
 * @example
 * ```ts
 * const paths = transferPaths(env);
 * ```
 */
export function transferPaths(env: BenchEnv): TransferPath[] {
  const nodePort = env.cluster.sshd.port;
  const posternSsh = env.cluster.postern.sshPort;
  const subsystem = `${env.ssh} -p ${posternSsh} %r@127.0.0.1 -s proxy:%h:%p`;
  return [
    {
      id: "direct",
      label: "(a) OpenSSH direct",
      target: `-p ${nodePort} root@127.0.0.1`,
      upload: false,
    },
    {
      id: "jump",
      label: "(b) OpenSSH jump host (-J sshd)",
      target: `-J root@127.0.0.1:${env.jump.port} -p ${nodePort} root@127.0.0.1`,
      upload: true,
    },
    {
      id: "subsystem",
      label: "(c) postern proxy: subsystem",
      target: `-o ${shellQuote(`ProxyCommand=${subsystem}`)} root@${env.nodeName}`,
      upload: true,
    },
    {
      id: "postern_jump",
      label: "(d) postern -J",
      target: `-J root@127.0.0.1:${posternSsh} root@${env.nodeName}`,
      upload: false,
    },
    {
      id: "https",
      label: "(e) postern proxy ssh (TLS)",
      target: `-o ${
        shellQuote(`ProxyCommand=${env.postern} proxy ssh %r@%h:%p`)
      } root@${env.nodeName}`,
      env: { POSTERN_HOME: env.posternHome, POSTERN_TUNNEL: "tls" },
      upload: true,
    },
    {
      id: "fast",
      label: "(f) postern proxy ssh --fdpass",
      target: `-o ${
        shellQuote(`ProxyCommand=${env.postern} proxy ssh --fdpass %r@%h:%p`)
      } -o ProxyUseFdpass=yes root@${env.nodeName}`,
      env: { POSTERN_HOME: env.posternHome },
      upload: true,
    },
    {
      id: "recorded",
      label: "(g) recorded root:saturn@proxy",
      target: `-p ${posternSsh} root:${env.nodeName}@127.0.0.1`,
      upload: false,
      text: true,
    },
  ];
}

function downScript(env: BenchEnv, path: TransferPath, bytes: number): string {
  const command = path.text ? `cat ${shellQuote(textFile(env))}` : `head -c ${bytes} /dev/zero`;
  return `${env.ssh} ${path.target} ${shellQuote(command)} > /dev/null`;
}

/** The text file `text` paths download (the node is on this machine). */
function textFile(env: BenchEnv): string {
  return `${env.dir}/transfer.txt`;
}

/** Writes {@link textFile}: `bytes` of lines of text. */
async function writeTextFile(env: BenchEnv, bytes: number): Promise<void> {
  const line = "postern benchmark: a line of text as a terminal would show it, 0123456789\n";
  await timeCommand(
    `yes ${shellQuote(line.trimEnd())} | head -c ${bytes} > ${shellQuote(textFile(env))}`,
  );
}

function upScript(env: BenchEnv, path: TransferPath, bytes: number): string {
  return `head -c ${bytes} /dev/zero | ${env.ssh} ${path.target} ${shellQuote("cat > /dev/null")}`;
}

/**
 * Checks every path carries a random file intact both ways (and warms it up:
 * Deno's module cache for (e), sshd's first fork).
 *
 * @param env the environment
 * @param paths the paths to check
 * @throws Error naming the path and direction whose checksum differs
 */
export async function checkPaths(env: BenchEnv, paths: TransferPath[]): Promise<void> {
  const file = `${env.dir}/check.bin`;
  const data = new Uint8Array(1_000_003);
  for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  await Deno.writeFile(file, data);
  const expected = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const quoted = shellQuote(file);
  for (const path of paths) {
    const ssh = `${env.ssh} ${path.target}`;
    const runs = {
      down: `${ssh} ${shellQuote(`cat ${quoted}`)} | sha256sum`,
      up: `${ssh} sha256sum < ${quoted}`,
    };
    for (const [direction, script] of Object.entries(runs)) {
      const { stdout } = await timeCommand(script, { env: path.env, captureStdout: true });
      if (stdout.slice(0, 64) !== expected) {
        throw new Error(`${path.label} corrupted 1 MB ${direction}: sha256 ${stdout.slice(0, 64)}`);
      }
    }
  }
}

/** Options of {@link runTransfers}. */
export interface TransferOptions {
  /** Bytes per transfer. */
  bytes: number;
  /** Runs per path and direction. */
  runs: number;
  /** Runs of the empty command per path. */
  overheadRuns: number;
  /** The postern process, whose CPU time each transfer reads. */
  proxyPid: number;
  /** Progress lines. */
  log(line: string): void;
}

/**
 * Measures every path: overhead, node → client, and client → node where asked.
 *
 * @param env the environment
 * @param paths the paths
 * @param options size, run counts, progress output
 * @returns one result per path, in the order given
 */
export async function runTransfers(
  env: BenchEnv,
  paths: TransferPath[],
  options: TransferOptions,
): Promise<PathResult[]> {
  const overhead = new Map<PathId, number[]>(paths.map((p) => [p.id, []]));
  const down = new Map<PathId, Run[]>(paths.map((p) => [p.id, []]));
  const up = new Map<PathId, Run[]>(paths.map((p) => [p.id, []]));
  if (paths.some((p) => p.text)) await writeTextFile(env, options.bytes);
  for (let run = 0; run < options.overheadRuns; run++) {
    for (const path of paths) {
      const { ms } = await timeCommand(`${env.ssh} ${path.target} true`, { env: path.env });
      overhead.get(path.id)!.push(ms);
    }
  }
  const timed = async (script: string, path: TransferPath): Promise<Run> => {
    const cpuBefore = processCpuMs(options.proxyPid);
    const { ms } = await timeCommand(script, { env: path.env });
    return { ms, cpuMs: processCpuMs(options.proxyPid) - cpuBefore };
  };
  const describe = (r: Run) =>
    `${round(mbps(options.bytes, r.ms), 0)} MB/s (proxy ${
      round(r.cpuMs / (options.bytes / 1e6), 2)
    } ms/MB)`;
  const transfer = async (path: TransferPath, run: number) => {
    const d = await timed(downScript(env, path, options.bytes), path);
    down.get(path.id)!.push(d);
    let line = `  run ${run + 1}/${options.runs}  ${path.label.padEnd(34)} down ${describe(d)}`;
    if (path.upload) {
      const u = await timed(upScript(env, path, options.bytes), path);
      up.get(path.id)!.push(u);
      line += `   up ${describe(u)}`;
    }
    options.log(line);
  };
  // A recorded path's runs come last: auth indexes what it recorded for
  // minutes afterwards (at a quarter of a core), which the other paths'
  // runs would otherwise share the machine with.
  const groups = [paths.filter((p) => !p.text), paths.filter((p) => p.text)];
  for (const group of groups) {
    for (let run = 0; run < options.runs; run++) {
      for (const path of group) {
        await transfer(path, run);
      }
    }
  }
  return paths.map((path) => {
    const overheadMs = median(overhead.get(path.id)!);
    const result: PathResult = {
      id: path.id,
      label: path.label,
      overhead_ms: round(overheadMs),
      down: direction(down.get(path.id)!, overheadMs, options.bytes),
    };
    if (path.upload) result.up = direction(up.get(path.id)!, overheadMs, options.bytes);
    return result;
  });
}

/** One timed transfer: wall time and the proxy's CPU time, ms. */
interface Run {
  ms: number;
  cpuMs: number;
}

function direction(runs: Run[], overheadMs: number, bytes: number): DirectionResult {
  const medianMs = median(runs.map((r) => r.ms));
  return {
    runs_ms: runs.map((r) => round(r.ms)),
    median_ms: round(medianMs),
    mbps_raw: round(mbps(bytes, medianMs)),
    mbps_net: round(mbps(bytes, medianMs - overheadMs)),
    proxy_cpu_ms_per_mb: round(median(runs.map((r) => r.cpuMs / (bytes / 1e6))), 2),
  };
}
