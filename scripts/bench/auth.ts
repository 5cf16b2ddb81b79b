/**
 * Benchmark of the auth role in process (not a test): how long a CLI login
 * takes (`LocalAuthService.issueUserCertificate`: scrypt password check,
 * store updates, audit, certificate signing) and how many user certificates
 * the CA signs per second (`CertAuthority.signUser`).
 *
 * Targets (issue 4): login p50 < 150 ms, signing ≥ 5,000 certs/s.
 *
 * The second factor is off (`auth.second_factor: off`) so that logins can
 * follow each other faster than TOTP's one code per 30 s allows; a TOTP check
 * is a few HMACs, far below the scrypt cost measured here.
 *
 * Usage: `deno run -A scripts/bench/auth.ts [--logins 100] [--sign-seconds 2]`.
 * Prints a table and writes `bench/results/auth-<timestamp>.json`.
 *
 * @module
 */

import { join } from "node:path";
import { parseConfig } from "../../lib/config/config.ts";
import { createLogger } from "../../lib/log.ts";
import { LocalAuthService } from "../../lib/auth/local.ts";
import { CertAuthority } from "../../lib/auth/authority.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import { generateEd25519KeyPair } from "../../lib/sshcert/mod.ts";
import { formatPublicKeyLine } from "../../lib/sshcert/mod.ts";

/** Options of {@linkcode runAuthBench}. */
export interface AuthBenchOptions {
  /** Logins to time. @default 100 */
  logins?: number;
  /** How long to sign certificates for. @default 2 */
  signSeconds?: number;
  /** Write the JSON result under this folder; none when null. @default "bench/results" */
  resultsDir?: string | null;
  /** Print the table. @default true */
  print?: boolean;
}

/** What {@linkcode runAuthBench} measured. */
export interface AuthBenchResult {
  name: "auth";
  time: string;
  deno: string;
  login: { count: number; p50_ms: number; p99_ms: number; mean_ms: number; target_p50_ms: number };
  signing: { count: number; seconds: number; certs_per_s: number; target_certs_per_s: number };
  pass: { login_p50: boolean; signing_rate: boolean };
  /** Path of the JSON file written, if any. */
  file?: string;
}

const TARGET_LOGIN_P50_MS = 150;
const TARGET_CERTS_PER_S = 5000;
const PASSWORD = "benchmark passphrase 1234";

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** Times `count` logins through the Auth API of a fresh data dir. */
async function benchLogins(dataDir: string, count: number): Promise<number[]> {
  const config = parseConfig("auth:\n  second_factor: off\n  max_login_attempts: 100\n");
  const log = createLogger({ level: "error", write: () => {} });
  const store = SqliteStore.open(dataDir);
  const auth = await LocalAuthService.open({
    store,
    config,
    dataDir,
    log,
    probe: {
      hostKey: () => Promise.reject(new Error("no nodes in this benchmark")),
      hostCertificates: () => Promise.resolve([]),
    },
  });
  try {
    const invite = await auth.addUser({ name: "bench", roles: ["access"], logins: ["root"] });
    const token = new URL(invite.url).pathname.split("/").pop()!;
    await auth.completeInvite(token, PASSWORD, undefined, "127.0.0.1");
    const publicKey = formatPublicKeyLine(generateEd25519KeyPair().publicKey, "bench");
    const request = { user: "bench", password: PASSWORD, publicKey, remoteAddr: "127.0.0.1" };
    await auth.issueUserCertificate(request); // warm-up: JIT, statement cache
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await auth.issueUserCertificate(request);
      times.push(performance.now() - start);
    }
    return times;
  } finally {
    await auth.close();
    store.close();
  }
}

/** Signs user certificates for `seconds`; returns how many. */
async function benchSigning(
  dataDir: string,
  seconds: number,
): Promise<{ count: number; ms: number }> {
  const store = SqliteStore.open(dataDir, { fileName: "sign.db" });
  try {
    const ca = await CertAuthority.open(store);
    const publicKey = generateEd25519KeyPair().publicKey;
    const sign = () =>
      ca.signUser({
        publicKey,
        user: "bench",
        principals: ["root", "bench"],
        ttlMs: 3_600_000,
        permits: { portForwarding: true, agentForwarding: true },
      });
    for (let i = 0; i < 200; i++) sign(); // warm-up
    let count = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 100; i++) sign();
      count += 100;
      now = performance.now();
    }
    return { count, ms: now - start };
  } finally {
    store.close();
  }
}

/**
 * Runs the auth benchmark: login latency and certificate signing rate.
 *
 * @param options counts, duration, where to write the JSON result
 * @returns the measurements and whether they meet the targets
 * @example
 * ```ts
 * const result = await runAuthBench({ logins: 50, signSeconds: 1, resultsDir: null });
 * console.log(result.login.p50_ms, result.signing.certs_per_s);
 * ```
 */
export async function runAuthBench(options: AuthBenchOptions = {}): Promise<AuthBenchResult> {
  const dataDir = await Deno.makeTempDir({ prefix: "postern-bench-auth-" });
  try {
    const times = await benchLogins(dataDir, options.logins ?? 100);
    const signing = await benchSigning(dataDir, options.signSeconds ?? 2);
    const sorted = [...times].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const certsPerSecond = signing.count / (signing.ms / 1000);
    const result: AuthBenchResult = {
      name: "auth",
      time: new Date().toISOString(),
      deno: Deno.version.deno,
      login: {
        count: times.length,
        p50_ms: round(p50),
        p99_ms: round(percentile(sorted, 99)),
        mean_ms: round(times.reduce((a, b) => a + b, 0) / times.length),
        target_p50_ms: TARGET_LOGIN_P50_MS,
      },
      signing: {
        count: signing.count,
        seconds: round(signing.ms / 1000, 2),
        certs_per_s: Math.round(certsPerSecond),
        target_certs_per_s: TARGET_CERTS_PER_S,
      },
      pass: {
        login_p50: p50 < TARGET_LOGIN_P50_MS,
        signing_rate: certsPerSecond >= TARGET_CERTS_PER_S,
      },
    };
    const resultsDir = options.resultsDir === undefined ? "bench/results" : options.resultsDir;
    if (resultsDir !== null) {
      await Deno.mkdir(resultsDir, { recursive: true });
      const stamp = result.time.replace(/[:.]/g, "-");
      result.file = join(resultsDir, `auth-${stamp}.json`);
      await Deno.writeTextFile(result.file, JSON.stringify(result, null, 2) + "\n");
    }
    if (options.print ?? true) console.log(formatResult(result));
    return result;
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** The result as a small text table. */
export function formatResult(result: AuthBenchResult): string {
  const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
  const rows = [
    ["measure", "value", "target", ""],
    [
      `login p50 (${result.login.count} logins)`,
      `${result.login.p50_ms} ms`,
      `< ${TARGET_LOGIN_P50_MS} ms`,
      mark(result.pass.login_p50),
    ],
    ["login p99", `${result.login.p99_ms} ms`, "", ""],
    ["login mean", `${result.login.mean_ms} ms`, "", ""],
    [
      "certificate signing",
      `${result.signing.certs_per_s} certs/s`,
      `>= ${TARGET_CERTS_PER_S} certs/s`,
      mark(result.pass.signing_rate),
    ],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  if (result.file) lines.push(`written to ${result.file}`);
  return lines.join("\n");
}

if (import.meta.main) {
  const value = (name: string, fallback: number) => {
    const at = Deno.args.indexOf(name);
    return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
  };
  const result = await runAuthBench({
    logins: value("--logins", 100),
    signSeconds: value("--sign-seconds", 2),
  });
  if (!result.pass.login_p50 || !result.pass.signing_rate) Deno.exitCode = 1;
}
