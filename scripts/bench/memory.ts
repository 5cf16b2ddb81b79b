/**
 * What idle sessions cost the proxy, measured from outside on its own fresh
 * cluster: the `postern start` process's RSS (and CPU time) idle, at N idle
 * tunneled `ssh -N` sessions (ProxyCommand through the `proxy:` subsystem to
 * the real sshd node), after they end, then the same again once the proxy has
 * carried bulk traffic. Targets (issue 17): idle proxy < 120 MiB, 1,000 idle
 * sessions < 400 MiB, 0 failures, RSS back within 10% of idle after they end,
 * and idle sessions costing no CPU.
 *
 * @module
 */

import { setUpBench } from "./setup.ts";
import { formatTable, processCpuMs, round, shellQuote, timeCommand } from "./stats.ts";

/** Options of {@link runMemoryBench}. */
export interface MemoryBenchOptions {
  /** Idle sessions opened at once in each round. */
  sessions: number;
  /** Bulk transfers (node → client through the subsystem) between the rounds. */
  bulkRuns: number;
  /** MB per bulk transfer. */
  bulkMb: number;
  /** Seconds over which idle CPU is sampled. */
  cpuSeconds: number;
  log: (line: string) => void;
}

/** One round: N idle sessions opened, held, then ended. */
export interface SessionRound {
  /** RSS before the sessions were opened, MiB. */
  before_mib: number;
  /** RSS with every session open and idle, MiB. */
  open_mib: number;
  /** (open - before) / sessions, KiB. */
  per_session_kib: number;
  /** Sessions that did not come up. */
  failures: number;
  /** Seconds to open them all. */
  open_s: number;
  /** CPU the proxy used while they sat idle, % of one core. */
  idle_cpu_pct: number;
  /** RSS a few seconds after they all ended, MiB. */
  after_mib: number;
}

/** Output of {@link runMemoryBench}. */
export interface MemoryResult {
  sessions: number;
  /** Fresh proxy, no sessions. */
  idle_mib: number;
  /** CPU of the proxy with no sessions, % of one core. */
  idle_cpu_pct: number;
  fresh: SessionRound;
  bulk: { runs: number; mb: number; after_mib: number };
  after_bulk: SessionRound;
  targets: MemoryTargets;
}

/** The issue's targets, with 1,000-session figures scaled to `sessions`. */
export interface MemoryTargets {
  idle_mib: number;
  /** RSS allowed at `sessions` idle sessions: 400 MiB at 1,000, scaled linearly from the idle target. */
  open_mib: number;
  /** RSS after sessions end: within this fraction of idle. */
  back_within: number;
  /** CPU with idle sessions, % of one core above the no-session figure. */
  idle_cpu_pct: number;
  pass: { idle: boolean; open: boolean; failures: boolean; back: boolean; cpu: boolean };
}

const TARGET_IDLE_MIB = 120;
const TARGET_AT_1000_MIB = 400;
const TARGET_BACK_WITHIN = 0.1;
const TARGET_IDLE_CPU_PCT = 0.5;
const OPEN_AT_ONCE = 16;

/**
 * Runs the memory and idle-cost benchmark on a fresh cluster of its own.
 *
 * @param options session count, bulk traffic, sampling time, progress log
 * @returns the figures and which targets hold
 * @example
 * ```ts
 * const result = await runMemoryBench({ sessions: 200, bulkRuns: 4, bulkMb: 100, cpuSeconds: 5, log: console.error });
 * console.log(formatMemoryResult(result));
 * ```
 */
export async function runMemoryBench(options: MemoryBenchOptions): Promise<MemoryResult> {
  const { log } = options;
  await using env = await setUpBench(log);
  const pid = env.cluster.postern.child.pid;
  const metricsUrl = env.metricsUrl;
  const nodePort = env.cluster.sshd.port;
  const subsystem = `${env.ssh} -p ${env.cluster.postern.sshPort} %r@127.0.0.1 -s proxy:%h:%p`;
  const target = [
    "-o",
    `ProxyCommand=${subsystem}`,
    "-p",
    String(nodePort),
    `root@${env.nodeName}`,
  ];
  const sshArgs = ["-F", env.sshConfig, ...target];

  // One session first: sshd's first fork, Deno's lazily compiled paths.
  const warm = await openIdleSessions(sshArgs, 1);
  await closeSessions(warm.sessions);
  await settle(metricsUrl);
  const idle = rssMib(pid);
  const idleCpu = await cpuPercent(pid, options.cpuSeconds);
  log(`memory: idle proxy ${idle.toFixed(0)} MiB, ${idleCpu.toFixed(2)}% CPU`);

  const round1 = await sessionRound(pid, metricsUrl, sshArgs, options, "fresh proxy");
  log(`memory: bulk traffic, ${options.bulkRuns} × ${options.bulkMb} MB at once...`);
  const bytes = Math.round(options.bulkMb * 1e6);
  const down = `${env.ssh} ${target.map(shellQuote).join(" ")} ${
    shellQuote(`head -c ${bytes} /dev/zero`)
  } > /dev/null`;
  await Promise.all(Array.from({ length: options.bulkRuns }, () => timeCommand(down)));
  await settle(metricsUrl);
  const afterBulk = rssMib(pid);
  log(`memory: after bulk ${afterBulk.toFixed(0)} MiB`);
  const round2 = await sessionRound(pid, metricsUrl, sshArgs, options, "after bulk traffic");

  const openTarget = TARGET_IDLE_MIB +
    (TARGET_AT_1000_MIB - TARGET_IDLE_MIB) * options.sessions / 1000;
  const worstOpen = Math.max(round1.open_mib, round2.open_mib);
  const worstIdleCpu = Math.max(round1.idle_cpu_pct, round2.idle_cpu_pct);
  const targets: MemoryTargets = {
    idle_mib: TARGET_IDLE_MIB,
    open_mib: round(openTarget, 0),
    back_within: TARGET_BACK_WITHIN,
    idle_cpu_pct: TARGET_IDLE_CPU_PCT,
    pass: {
      idle: idle < TARGET_IDLE_MIB,
      open: worstOpen < openTarget,
      failures: round1.failures + round2.failures === 0,
      back: round2.after_mib <= idle * (1 + TARGET_BACK_WITHIN),
      cpu: worstIdleCpu - idleCpu < TARGET_IDLE_CPU_PCT,
    },
  };
  return {
    sessions: options.sessions,
    idle_mib: round(idle),
    idle_cpu_pct: round(idleCpu, 2),
    fresh: round1,
    bulk: { runs: options.bulkRuns, mb: options.bulkMb, after_mib: round(afterBulk) },
    after_bulk: round2,
    targets,
  };
}

async function sessionRound(
  pid: number,
  metricsUrl: string,
  sshArgs: string[],
  options: MemoryBenchOptions,
  label: string,
): Promise<SessionRound> {
  const before = rssMib(pid);
  options.log(`memory: opening ${options.sessions} idle sessions (${label})...`);
  const started = performance.now();
  const { sessions, failures } = await openIdleSessions(sshArgs, options.sessions);
  const openS = (performance.now() - started) / 1000;
  // Logins done, the last ones' garbage left to the proxy's own collector.
  await new Promise((resolve) => setTimeout(resolve, 8000));
  const open = rssMib(pid);
  const cpu = await cpuPercent(pid, options.cpuSeconds);
  options.log(
    `memory: ${sessions.length} open (${failures} failed) in ${openS.toFixed(1)} s: ` +
      `${open.toFixed(0)} MiB, ${cpu.toFixed(2)}% CPU`,
  );
  await closeSessions(sessions);
  await settle(metricsUrl);
  const after = rssMib(pid);
  options.log(`memory: after they ended ${after.toFixed(0)} MiB`);
  return {
    before_mib: round(before),
    open_mib: round(open),
    per_session_kib: round(((open - before) * 1024) / Math.max(1, sessions.length), 0),
    failures,
    open_s: round(openS),
    idle_cpu_pct: round(cpu, 2),
    after_mib: round(after),
  };
}

/**
 * Opens `count` `ssh -N` sessions, {@link OPEN_AT_ONCE} at a time; each counts
 * as up once ssh runs its LocalCommand (after authentication).
 */
async function openIdleSessions(
  sshArgs: string[],
  count: number,
): Promise<{ sessions: Deno.ChildProcess[]; failures: number }> {
  const sessions: Deno.ChildProcess[] = [];
  let failures = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const child = new Deno.Command("ssh", {
        args: ["-N", "-o", "PermitLocalCommand=yes", "-o", "LocalCommand=echo up", ...sshArgs],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      if (await cameUp(child)) sessions.push(child);
      else {
        failures++;
        await child.status;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_AT_ONCE, count) }, worker));
  return { sessions, failures };
}

/** Reads the child's stdout until "up" (then lets go of the pipe) or its end. */
async function cameUp(child: Deno.ChildProcess): Promise<boolean> {
  const reader = child.stdout.getReader();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
  }, 60_000);
  let text = "";
  try {
    while (!text.includes("up")) {
      const { value, done } = await reader.read();
      if (done) return false;
      text += new TextDecoder().decode(value);
    }
    return true;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
  }
}

async function closeSessions(sessions: Deno.ChildProcess[]): Promise<void> {
  for (const child of sessions) {
    try {
      child.kill("SIGTERM");
    } catch {
      // Exited already.
    }
  }
  await Promise.all(sessions.map((child) => child.status));
}

/**
 * Waits until the proxy has closed every connection (its
 * `postern_connections_active` gauges are all 0: on a loaded machine that can
 * take many seconds after the clients exited), then for it to give the freed
 * memory back, which it does at most {@link TRIM_WAIT_MS} after the last
 * connection ended (lib/memory/trimmer.ts).
 */
async function settle(metricsUrl: string): Promise<void> {
  const deadline = performance.now() + 120_000;
  while (await activeConnections(metricsUrl) > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await new Promise((resolve) => setTimeout(resolve, TRIM_WAIT_MS));
}

/** The trimmer's 10 s cadence, its 2 s delay, and time for the trim itself. */
const TRIM_WAIT_MS = 13_000;

/** The sum of the proxy's `postern_connections_active` gauges. */
async function activeConnections(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let sum = 0;
  for (const match of text.matchAll(/^postern_connections_active\{[^}]*\} (\d+)/gm)) {
    sum += Number(match[1]);
  }
  return sum;
}

/** The process's resident set, MiB, from /proc/<pid>/status. */
function rssMib(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kib / 1024;
}

/**
 * How long after a burst of logins the proxy's CPU is not counted: once
 * allocation stops, V8's memory reducer runs its memory-reducing collections
 * about 8 s apart (`--trace-gc`, 1,000 sessions just opened: two
 * "Incremental Mark-Compact (reduce)" 9 and 18 s after the last, 110–130 ms
 * of CPU each, shrinking the heap from 98 to 50 MB), which a shorter wait
 * took for the cost of idle sessions (2.9% of a core in one run).
 */
const SETTLE_MS = 30_000;

/**
 * CPU time the process used over `seconds`, as % of one core, after
 * {@link SETTLE_MS} (or `seconds`, if longer) that are not counted.
 */
async function cpuPercent(pid: number, seconds: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(SETTLE_MS, seconds * 1000)));
  const start = processCpuMs(pid);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return ((processCpuMs(pid) - start) / (performance.now() - started)) * 100;
}

/**
 * The result as a table.
 *
 * @param result from {@link runMemoryBench}
 * @returns table text
 * @example
 * ```ts
 * console.log(formatMemoryResult(result));
 * ```
 */
export function formatMemoryResult(result: MemoryResult): string {
  const n = result.sessions;
  const rows = (label: string, r: SessionRound) => [
    [`${label}: RSS at ${n} idle sessions`, `${r.open_mib.toFixed(0)} MiB`],
    [`${label}: per idle session`, `${r.per_session_kib} KiB`],
    [`${label}: failures / time to open`, `${r.failures} / ${r.open_s.toFixed(1)} s`],
    [`${label}: proxy CPU while idle`, `${r.idle_cpu_pct.toFixed(2)}%`],
    [`${label}: RSS after they ended`, `${r.after_mib.toFixed(0)} MiB`],
  ];
  const lines = [
    ["measure", "value"],
    ["idle proxy RSS", `${result.idle_mib.toFixed(0)} MiB`],
    ["idle proxy CPU", `${result.idle_cpu_pct.toFixed(2)}%`],
    ...rows("fresh", result.fresh),
    [
      `after ${result.bulk.runs} × ${result.bulk.mb} MB bulk: RSS`,
      `${result.bulk.after_mib.toFixed(0)} MiB`,
    ],
    ...rows("after bulk", result.after_bulk),
  ];
  return formatTable(lines);
}
