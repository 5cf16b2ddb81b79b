/**
 * The store's cost (not a test): certificate logins against SQLite and
 * against PostgreSQL, and login throughput with one and with two auth
 * servers sharing PostgreSQL behind haproxy, measured in one run.
 *
 * - burst: `--burst` (200) certificate logins at once on `postern start`
 *   over SQLite and over PostgreSQL: p50 / p99 and errors (must be 0).
 * - throughput: `--logins` (200) logins, `--concurrency` (20) at a time,
 *   through two proxies in front of one, then two, auth servers on PostgreSQL.
 *
 * Password logins are CPU-bound (scrypt): a second auth server on the same
 * two cores shows the coordination cost more than a speed-up.
 *
 * Usage: `deno run -A scripts/bench/storage.ts [--burst 200] [--logins 200] [--concurrency 20]`.
 *
 * @module
 */

import { startCluster, type TestCluster, type TestUser } from "../../tests/helpers/cluster.ts";
import { startPostgres } from "../../tests/helpers/postgres.ts";
import { newKeyPair } from "../../tests/helpers/sshd.ts";
import { formatTable, percentile, round } from "./stats.ts";

/** What {@linkcode runStorageBench} measured. */
export interface StorageBenchResult {
  burst: Record<
    "sqlite" | "postgres",
    { logins: number; p50_ms: number; p99_ms: number; errors: number }
  >;
  throughput: Record<"one_auth" | "two_auth", { logins_per_s: number; errors: number }>;
  pass: boolean;
}

const AUTH_CONFIG = "  second_factor: off\n  max_login_attempts: 100";
/** A proxy counts checks in flight from one address as failures: one bench client is one address. */
const PROXY_CONFIG = "  max_failures_per_address: 100000";

function storage(url: string): string {
  return [PROXY_CONFIG, "storage:", "  type: postgres", `  url: ${url}`].join("\n");
}

/** One certificate login (password only); its time in ms, or null when refused. */
async function login(
  cluster: TestCluster,
  proxy: number,
  clients: Deno.HttpClient[],
  user: string,
  password: string,
  pub: string,
): Promise<number | null> {
  const target = cluster.proxies[proxy] ?? cluster.postern;
  const start = performance.now();
  try {
    const response = await fetch(`${target.url}/v1/webapi/ssh/certs`, {
      method: "POST",
      client: clients[proxy],
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user, password, pub_key: pub }),
    });
    await response.body?.cancel();
    return response.status === 200 ? performance.now() - start : null;
  } catch {
    return null;
  }
}

async function clientsOf(cluster: TestCluster): Promise<Deno.HttpClient[]> {
  const targets = cluster.proxies.length > 0 ? cluster.proxies : [cluster.postern];
  return await Promise.all(targets.map((p) => p.client()));
}

/**
 * Users the burst spreads over: auth lets at most max_login_attempts (100)
 * checks of one user run at once, and refuses the rest.
 */
const BURST_USERS = 4;

/** `count` logins at once on a single-process cluster. */
async function burst(cluster: TestCluster, count: number) {
  const users: TestUser[] = [];
  for (let i = 0; i < BURST_USERS; i++) {
    users.push(await cluster.createUser(`bench-${i}`, { logins: ["root"] }));
  }
  const pub = (await newKeyPair(cluster.dir, "bench")).pub;
  const clients = await clientsOf(cluster);
  try {
    const times = await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const user = users[i % BURST_USERS];
        return login(cluster, 0, clients, user.name, user.password, pub);
      }),
    );
    const ok = times.filter((t): t is number => t !== null);
    return {
      logins: count,
      p50_ms: round(percentile(ok, 50)),
      p99_ms: round(percentile(ok, 99)),
      errors: count - ok.length,
    };
  } finally {
    for (const client of clients) client.close();
  }
}

/** `count` logins, `concurrency` at a time, spread over the cluster's proxies. */
async function throughput(cluster: TestCluster, count: number, concurrency: number) {
  const user = await cluster.createUser("bench", { logins: ["root"] });
  const pub = (await newKeyPair(cluster.dir, "bench")).pub;
  const clients = await clientsOf(cluster);
  let next = 0;
  let errors = 0;
  const start = performance.now();
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        if (
          await login(cluster, i % clients.length, clients, user.name, user.password, pub) === null
        ) {
          errors++;
        }
      }
    }));
  } finally {
    for (const client of clients) client.close();
  }
  const seconds = (performance.now() - start) / 1000;
  return { logins_per_s: round(count / seconds, 1), errors };
}

/**
 * Runs the storage benchmarks with a private PostgreSQL server.
 *
 * @example
 * ```ts
 * const result = await runStorageBench({ burst: 50, logins: 50, log: console.error });
 * ```
 */
export async function runStorageBench(
  options: {
    burst?: number;
    logins?: number;
    concurrency?: number;
    log?: (line: string) => void;
  } = {},
): Promise<StorageBenchResult> {
  const log = options.log ?? (() => {});
  const burstSize = options.burst ?? 200;
  await using pg = await startPostgres();
  const result = { burst: {}, throughput: {} } as StorageBenchResult;
  for (const backend of ["sqlite", "postgres"] as const) {
    log(`${burstSize} logins at once on postern start over ${backend}...`);
    const extraConfig = backend === "postgres" ? storage(await pg.createDatabase()) : PROXY_CONFIG;
    await using cluster = await startCluster({ authConfig: AUTH_CONFIG, extraConfig });
    result.burst[backend] = await burst(cluster, burstSize);
  }
  for (const [key, count] of [["one_auth", 1], ["two_auth", 2]] as const) {
    log(
      `${
        options.logins ?? 200
      } logins through two proxies, ${count} auth server(s) on PostgreSQL...`,
    );
    await using cluster = await startCluster({
      split: true,
      authServerCount: count,
      authConfig: AUTH_CONFIG,
      extraConfig: storage(await pg.createDatabase()),
    });
    result.throughput[key] = await throughput(
      cluster,
      options.logins ?? 200,
      options.concurrency ?? 20,
    );
  }
  result.pass = Object.values(result.burst).every((b) => b.errors === 0) &&
    Object.values(result.throughput).every((t) => t.errors === 0);
  return result;
}

/** The result as a table. */
export function formatStorageResult(result: StorageBenchResult): string {
  const { sqlite, postgres } = result.burst;
  return formatTable([
    ["measure", "SQLite", "PostgreSQL"],
    [
      `${sqlite.logins} certificate logins at once: p50 / p99 (errors)`,
      `${sqlite.p50_ms} / ${sqlite.p99_ms} ms (${sqlite.errors})`,
      `${postgres.p50_ms} / ${postgres.p99_ms} ms (${postgres.errors})`,
    ],
    [
      "logins/s through two proxies: one auth server / two (errors)",
      "",
      `${result.throughput.one_auth.logins_per_s} (${result.throughput.one_auth.errors}) / ${result.throughput.two_auth.logins_per_s} (${result.throughput.two_auth.errors})`,
    ],
  ]);
}

if (import.meta.main) {
  const value = (name: string, fallback: number) => {
    const at = Deno.args.indexOf(name);
    return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
  };
  const result = await runStorageBench({
    burst: value("--burst", 200),
    logins: value("--logins", 200),
    concurrency: value("--concurrency", 20),
    log: (line) => console.error(line),
  });
  console.log(formatStorageResult(result));
  if (!result.pass) Deno.exitCode = 1;
}
