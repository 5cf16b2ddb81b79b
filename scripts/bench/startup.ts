/**
 * Start-up cost: `postern start` until `/healthz` answers (warm: data dir,
 * CAs and TLS certificate exist already) and the CLI commands OpenSSH or a
 * user run many times (`version`, `status`, `ls`, and `proxy ssh` until the
 * node's SSH banner comes back), each beside `deno eval 0` measured in the
 * same run, since Deno's own start is the floor. Targets (issue 17): start →
 * healthz < 300 ms, each command < 100 ms.
 *
 * @module
 */

import type { BenchEnv } from "./setup.ts";
import { median, round, shellQuote, timeCommand } from "./stats.ts";
import { MAIN, startArgs, startPosternProcess } from "../../tests/helpers/postern.ts";

/** Options of {@link runStartupBench}. */
export interface StartupBenchOptions {
  /** Runs of each measure; medians are reported. */
  runs: number;
  log: (line: string) => void;
}

/** One measure: its median and every run, ms. */
export interface StartupFigure {
  label: string;
  median_ms: number;
  runs_ms: number[];
  /** Target, ms (none for the `deno eval 0` floor). */
  target_ms?: number;
  pass?: boolean;
}

/** Output of {@link runStartupBench}. */
export interface StartupResult {
  figures: StartupFigure[];
  pass: boolean;
}

const TARGET_START_MS = 300;
const TARGET_COMMAND_MS = 100;

/**
 * Measures start-up, interleaving the measures run by run.
 *
 * @param env the benchmark environment (its POSTERN_HOME is logged in)
 * @param options runs and progress log
 * @returns medians per measure and whether every target holds
 * @example
 * ```ts
 * const result = await runStartupBench(env, { runs: 5, log: console.error });
 * ```
 */
export async function runStartupBench(
  env: BenchEnv,
  options: StartupBenchOptions,
): Promise<StartupResult> {
  const cliEnv = { POSTERN_HOME: env.posternHome };
  const postern = env.postern;
  const bannerTarget = `root@${env.nodeName}:${env.cluster.sshd.port}`;
  const commands: { label: string; script: string; target?: number }[] = [
    { label: "deno eval 0 (floor)", script: `${shellQuote(Deno.execPath())} eval 0` },
    { label: "postern version", script: `${postern} version`, target: TARGET_COMMAND_MS },
    { label: "postern status", script: `${postern} status`, target: TARGET_COMMAND_MS },
    { label: "postern ls", script: `${postern} ls`, target: TARGET_COMMAND_MS },
  ];
  const bannerLabel = "postern proxy ssh → node banner";
  options.log("startup: postern start → /healthz and CLI commands...");
  const first = await startPosternProcess();
  const http = await first.client();
  await first.stop();
  const samples = new Map<string, number[]>();
  const add = (label: string, ms: number) => samples.set(label, [...samples.get(label) ?? [], ms]);
  try {
    for (const { script } of commands) await timeCommand(script, { env: cliEnv });
    await timeToBanner(bannerTarget, cliEnv);
    for (let run = 0; run < options.runs; run++) {
      for (const { label, script } of commands) {
        add(label, (await timeCommand(script, { env: cliEnv })).ms);
      }
      add(bannerLabel, await timeToBanner(bannerTarget, cliEnv));
      add("postern start → /healthz (warm)", await startToHealthy(first, http));
    }
  } finally {
    http.close();
    await Deno.remove(first.dataDir, { recursive: true }).catch(() => {});
    await Deno.remove(first.configPath).catch(() => {});
  }
  const targets = new Map<string, number | undefined>([
    ["postern start → /healthz (warm)", TARGET_START_MS],
    ...commands.map(({ label, target }) => [label, target] as [string, number | undefined]),
    [bannerLabel, TARGET_COMMAND_MS],
  ]);
  const figures = [...samples].map(([label, runs]): StartupFigure => {
    const target = targets.get(label);
    const m = round(median(runs), 0);
    return {
      label,
      median_ms: m,
      runs_ms: runs.map((ms) => round(ms, 0)),
      ...(target === undefined ? {} : { target_ms: target, pass: m < target }),
    };
  });
  return { figures, pass: figures.every((f) => f.pass !== false) };
}

/**
 * Runs `postern proxy ssh <target>` as OpenSSH does (its stdin stays open)
 * and returns the ms until the node's SSH banner reaches its stdout, then
 * ends it. (Fed from /dev/null instead, it sees end of input at once and the
 * proxy may drop the tunnel before the node answers: an error timed as a start.)
 */
async function timeToBanner(target: string, env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "proxy", "ssh", target],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let received = "";
  const reader = child.stdout.getReader();
  try {
    while (received.length < 4) {
      const { value, done } = await reader.read();
      if (done) break;
      received += new TextDecoder().decode(value);
    }
    const ms = performance.now() - started;
    if (!received.startsWith("SSH-")) {
      const stderr = await new Response(child.stderr).text().catch(() => "");
      throw new Error(`postern proxy ssh ${target} gave no SSH banner: ${stderr.slice(-500)}`);
    }
    return ms;
  } finally {
    reader.releaseLock();
    child.kill("SIGTERM");
    await child.status;
    await Promise.all([child.stdout.cancel(), child.stderr.cancel()]).catch(() => {});
    await child.stdin.close().catch(() => {});
  }
}

/** Starts postern again on `first`'s config and data dir; ms until /healthz says ok. */
async function startToHealthy(
  first: { configPath: string; dataDir: string; url: string },
  http: Deno.HttpClient,
): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: startArgs(first.configPath, first.dataDir),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    while (performance.now() - started < 30_000) {
      const ok = await fetch(`${first.url}/healthz`, { client: http })
        .then(async (response) => {
          await response.body?.cancel();
          return response.ok;
        })
        .catch(() => false);
      if (ok) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("Cannot time postern start: /healthz did not answer within 30 s");
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

/**
 * The result as table rows: measure, median, target, status.
 *
 * @param result from {@link runStartupBench}
 * @returns rows with a header
 * @example
 * ```ts
 * console.log(formatTable(startupRows(result)));
 * ```
 */
export function startupRows(result: StartupResult): string[][] {
  return [
    ["measure", "median", "target", "status"],
    ...result.figures.map((f) => [
      f.label,
      `${f.median_ms} ms`,
      f.target_ms === undefined ? "" : `< ${f.target_ms} ms`,
      f.pass === undefined ? "" : f.pass ? "PASS" : "MISS",
    ]),
  ];
}
