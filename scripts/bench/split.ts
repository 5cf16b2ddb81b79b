/**
 * The production layout's cost (not a test): login latency and SSH
 * connection setup through a proxy that reaches auth over the Auth API
 * (`--roles proxy` + `--roles auth`), beside the same figures for the
 * single-process `postern start`, measured interleaved in one run.
 *
 * Target (issue 12): connection setup through a remote-auth proxy ≤ 1.1× the
 * single-process one. The second factor is off so that logins can follow each
 * other faster than one TOTP code per 30 s.
 *
 * Usage: `deno run -A scripts/bench/split.ts [--logins 50] [--setups 20]`.
 *
 * @module
 */

import { startCluster, type TestCluster } from "../../tests/helpers/cluster.ts";
import { newKeyPair, runSsh } from "../../tests/helpers/sshd.ts";
import { writeSshConfig } from "../../tests/helpers/gateway.ts";
import { formatTable, median, percentile, round } from "./stats.ts";

/** Connection setup through a remote-auth proxy, at most this × single-process. */
export const TARGET_SETUP_RATIO = 1.1;

/** What {@linkcode runSplitBench} measured, per layout. */
export interface SplitBenchResult {
  login_ms: Record<Layout, { p50: number; p99: number }>;
  setup_ms: Record<Layout, { p50: number }>;
  setup_ratio: number;
  target_setup_ratio: number;
  pass: boolean;
}

type Layout = "single" | "split";

const AUTH_CONFIG = "  second_factor: off\n  max_login_attempts: 100";

/** Times one `POST /v1/webapi/ssh/certs` (password only: second factor off). */
async function timeLogin(cluster: TestCluster, password: string, pub: string): Promise<number> {
  const start = performance.now();
  const response = await cluster.api("POST", "/v1/webapi/ssh/certs", {
    user: "bench",
    password,
    pub_key: pub,
  });
  const ms = performance.now() - start;
  if (response.status !== 200) throw new Error(`login failed: ${JSON.stringify(response.body)}`);
  return ms;
}

/** Times `ssh ... root@saturn true` with the proxy as ProxyCommand. */
async function timeSetup(cluster: TestCluster, config: string): Promise<number> {
  const start = performance.now();
  const result = await runSsh([
    "-F",
    config,
    "-o",
    `ProxyCommand=ssh -F ${config} -p ${cluster.postern.sshPort} %r@127.0.0.1 -s proxy:%h:%p`,
    "root@saturn",
    "true",
  ]);
  const ms = performance.now() - start;
  if (result.code !== 0) throw new Error(`ssh failed: ${result.stderr}`);
  return ms;
}

/**
 * Runs both layouts side by side.
 *
 * @param options how many logins and connection setups per layout
 * @returns the figures and whether the setup ratio meets its target
 * @example
 * ```ts
 * const result = await runSplitBench({ logins: 10, setups: 5, log: console.error });
 * console.log(result.setup_ratio);
 * ```
 */
export async function runSplitBench(
  options: { logins?: number; setups?: number; log?: (line: string) => void } = {},
): Promise<SplitBenchResult> {
  const log = options.log ?? (() => {});
  log("starting a single-process cluster and an auth + two proxies cluster...");
  await using single = await startCluster({ authConfig: AUTH_CONFIG });
  await using split = await startCluster({ split: true, authConfig: AUTH_CONFIG });
  const clusters: Record<Layout, TestCluster> = { single, split };
  const logins: Record<Layout, number[]> = { single: [], split: [] };
  const setups: Record<Layout, number[]> = { single: [], split: [] };
  const configs = {} as Record<Layout, string>;
  const password = {} as Record<Layout, string>;
  for (const layout of ["single", "split"] as const) {
    const cluster = clusters[layout];
    const user = await cluster.createUser("bench", { logins: ["root"] });
    password[layout] = user.password;
    configs[layout] = await writeSshConfig(cluster, await cluster.login(user));
  }
  const pub = (await newKeyPair(single.dir, "bench-login")).pub;
  log(`logins: ${options.logins ?? 50} per layout, interleaved...`);
  for (let i = 0; i < (options.logins ?? 50); i++) {
    for (const layout of ["single", "split"] as const) {
      logins[layout].push(await timeLogin(clusters[layout], password[layout], pub));
    }
  }
  log(`connection setups: ${options.setups ?? 20} per layout, interleaved...`);
  for (let i = 0; i < (options.setups ?? 20); i++) {
    for (const layout of ["single", "split"] as const) {
      setups[layout].push(await timeSetup(clusters[layout], configs[layout]));
    }
  }
  const loginFigures = (layout: Layout) => ({
    p50: round(percentile(logins[layout], 50)),
    p99: round(percentile(logins[layout], 99)),
  });
  const setupRatio = median(setups.split) / median(setups.single);
  return {
    login_ms: { single: loginFigures("single"), split: loginFigures("split") },
    setup_ms: {
      single: { p50: round(median(setups.single)) },
      split: { p50: round(median(setups.split)) },
    },
    setup_ratio: round(setupRatio, 2),
    target_setup_ratio: TARGET_SETUP_RATIO,
    pass: setupRatio <= TARGET_SETUP_RATIO,
  };
}

/** The result as a table. */
export function formatSplitResult(result: SplitBenchResult): string {
  return formatTable([
    ["measure", "postern start (one process)", "--roles proxy + --roles auth"],
    [
      "login p50 / p99 (POST /v1/webapi/ssh/certs)",
      `${result.login_ms.single.p50} / ${result.login_ms.single.p99} ms`,
      `${result.login_ms.split.p50} / ${result.login_ms.split.p99} ms`,
    ],
    [
      "ssh connection setup p50 (ProxyCommand, `true`)",
      `${result.setup_ms.single.p50} ms`,
      `${result.setup_ms.split.p50} ms (${result.setup_ratio.toFixed(2)}×)`,
    ],
  ]);
}

if (import.meta.main) {
  const value = (name: string, fallback: number) => {
    const at = Deno.args.indexOf(name);
    return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
  };
  const result = await runSplitBench({
    logins: value("--logins", 50),
    setups: value("--setups", 20),
    log: (line) => console.error(line),
  });
  console.log(formatSplitResult(result));
  if (!result.pass) Deno.exitCode = 1;
}
