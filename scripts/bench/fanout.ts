/**
 * Fan-out: many `ssh … true` started at once through the postern `proxy:`
 * subsystem as ProxyCommand (what `ansible`/`pssh` do), beside the same
 * burst through the OpenSSH jump host and straight to the node (no proxy at
 * all: the floor, since each connection costs the node sshd a login and the
 * client a key exchange whatever the path). A node sshd of its own accepts enough
 * simultaneous logins (`MaxStartups 256`) so that only the proxies are
 * measured. Each burst waits for the machine to be quiet first. Targets
 * (issue 17): 16 at once all done < 1 s; 100 at once with no failure.
 *
 * @module
 */

import type { BenchEnv } from "./setup.ts";
import { join } from "node:path";
import { machineQuiet, median, processCpuMs, round, shellQuote } from "./stats.ts";
import { startSshd } from "../../tests/helpers/sshd.ts";

/** Options of {@link runFanoutBench}. */
export interface FanoutBenchOptions {
  /** Burst sizes; the first is timed through the jump host and straight to the node too. */
  bursts: number[];
  log: (line: string) => void;
}

/** One burst through one path. */
export interface Burst {
  path: "postern" | "jump" | "direct";
  at_once: number;
  failures: number;
  median_ms: number;
  slowest_ms: number;
  /** CPU time the postern process spent per connection of the burst (postern path only). */
  proxy_cpu_ms_per_connection?: number;
  /** stderr of the first failure, if any. */
  first_error?: string;
}

/** Output of {@link runFanoutBench}. */
export interface FanoutResult {
  bursts: Burst[];
  target_slowest_ms: number;
  pass: { slowest: boolean; failures: boolean };
}

const TARGET_SLOWEST_MS = 1000;
/**
 * Each burst starts once the cores were this idle for a second: the burst
 * measures the paths, not what the sections before it left running (right
 * after the memory section, 1,000 ssh clients exiting and the proxy's
 * memory-reducing collections put the slowest of 16 at once 50–300 ms later).
 */
const QUIET_IDLE_SHARE = 0.9;
const NODE_NAME = "fanout";

/**
 * Runs the bursts: postern first, then the jump host and the node directly
 * for the first size.
 *
 * @param env the benchmark environment
 * @param options burst sizes and progress log
 * @returns per-burst figures and whether the targets hold
 * @example
 * ```ts
 * const result = await runFanoutBench(env, { bursts: [16, 100], log: console.error });
 * ```
 */
export async function runFanoutBench(
  env: BenchEnv,
  options: FanoutBenchOptions,
): Promise<FanoutResult> {
  const userCa = (await env.cluster.admin("ca", "export", "--type", "user")).stdout.trim();
  await using node = await startSshd({
    trustedUserCAKeys: userCa,
    extraConfig: ["MaxStartups 256"],
  });
  const added = await env.cluster.admin("nodes", "add", NODE_NAME, `127.0.0.1:${node.port}`);
  if (added.code !== 0) throw new Error(`Cannot register the fan-out node: ${added.stderr}`);
  // Stock ssh has no banner timeout; the bench config's 10 s would turn a
  // slow burst on a loaded machine into failures of the client's own, on
  // every hop (ProxyCommand and -J included).
  const config = join(env.dir, "ssh_config_fanout");
  await Deno.writeTextFile(
    config,
    (await Deno.readTextFile(env.sshConfig)).replace(/ConnectTimeout \d+/, "ConnectTimeout 120"),
  );
  const ssh = `ssh -F ${shellQuote(config)}`;
  const subsystem = `${ssh} -p ${env.cluster.postern.sshPort} %r@127.0.0.1 -s proxy:%h:%p`;
  const paths = {
    postern: ["-o", `ProxyCommand=${subsystem}`, `root@${NODE_NAME}`],
    jump: ["-J", `root@127.0.0.1:${env.jump.port}`, "-p", String(node.port), "root@127.0.0.1"],
    direct: ["-p", String(node.port), "root@127.0.0.1"],
  };
  // Warm up both paths (sshd's first fork, the proxy's first tunnel).
  for (const args of Object.values(paths)) await burst(config, args, 1);
  const bursts: Burst[] = [];
  for (const [i, size] of options.bursts.entries()) {
    for (const path of i === 0 ? ["postern", "jump", "direct"] as const : ["postern"] as const) {
      const idle = await machineQuiet(QUIET_IDLE_SHARE);
      options.log(
        `fan-out: ${size} at once through ${path} (cores ${round(idle * 100, 0)}% idle)...`,
      );
      const before = processCpuMs(env.cluster.postern.child.pid);
      const figures = await burst(config, paths[path], size);
      const cpu = (processCpuMs(env.cluster.postern.child.pid) - before) / size;
      bursts.push({
        path,
        at_once: size,
        ...figures,
        ...(path === "postern" ? { proxy_cpu_ms_per_connection: round(cpu, 1) } : {}),
      });
    }
  }
  const first = bursts.find((b) => b.path === "postern" && b.at_once === options.bursts[0]);
  return {
    bursts,
    target_slowest_ms: TARGET_SLOWEST_MS,
    pass: {
      slowest: first !== undefined && first.failures === 0 &&
        first.slowest_ms < TARGET_SLOWEST_MS,
      failures: bursts.every((b) => b.path !== "postern" || b.failures === 0),
    },
  };
}

/** Starts `size` `ssh … true` at once; their wall times and failures. */
async function burst(
  config: string,
  args: string[],
  size: number,
): Promise<Omit<Burst, "path" | "at_once">> {
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: size }, async () => {
    const output = await new Deno.Command("ssh", {
      args: ["-F", config, ...args, "true"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    return {
      ms: performance.now() - started,
      ok: output.code === 0,
      stderr: new TextDecoder().decode(output.stderr).trim(),
    };
  }));
  const times = runs.map((r) => r.ms);
  const failed = runs.filter((r) => !r.ok);
  return {
    failures: failed.length,
    median_ms: round(median(times), 0),
    slowest_ms: round(Math.max(...times), 0),
    ...(failed.length ? { first_error: failed[0].stderr.slice(-300) } : {}),
  };
}

/**
 * The result as table rows.
 *
 * @param result from {@link runFanoutBench}
 * @returns rows with a header
 * @example
 * ```ts
 * console.log(formatTable(fanoutRows(result)));
 * ```
 */
export function fanoutRows(result: FanoutResult): string[][] {
  return [
    ["path", "at once", "failures", "median", "slowest", "proxy CPU each"],
    ...result.bursts.map((b) => [
      {
        postern: "postern proxy: subsystem",
        jump: "OpenSSH jump host (-J sshd)",
        direct: "ssh straight to the node (floor)",
      }[b.path],
      String(b.at_once),
      String(b.failures),
      `${b.median_ms} ms`,
      `${b.slowest_ms} ms`,
      b.proxy_cpu_ms_per_connection === undefined ? "" : `${b.proxy_cpu_ms_per_connection} ms`,
    ]),
  ];
}
