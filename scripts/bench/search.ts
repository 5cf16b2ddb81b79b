/**
 * Search across recordings (not a test): `--search-recordings` (1,000)
 * recordings with `--search-mb` (500) MB of terminal output between them
 * are written to a store and indexed the way auth indexes them, then
 * searches run as the recordings page sends them: a rare word, a common
 * one, a phrase, a word prefix, a word found nowhere, and one user's
 * recordings only. Each search runs `--search-runs` times; target: p99 <
 * 200 ms for every one. On SQLite (the default store) and, unless
 * `--search-sqlite-only`, on PostgreSQL.
 *
 * Usage: `deno run -A scripts/bench/search.ts [--search-mb 500] [--search-recordings 1000]
 * [--search-runs 20] [--search-sqlite-only]`.
 *
 * @module
 */

import pgClient from "postgres";
import { RecordingIndexer } from "../../lib/auth/recording_index.ts";
import { createLogger } from "../../lib/log.ts";
import { PostgresStore } from "../../lib/store/postgres.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import type { Store } from "../../lib/store/store.ts";
import { startPostgres } from "../../tests/helpers/postgres.ts";
import { formatTable, percentile, round } from "./stats.ts";

/** Options of {@linkcode runSearchBench}. */
export interface SearchBenchOptions {
  /** MB of terminal output over all recordings. @default 500 */
  outputMb?: number;
  /** @default 1000 */
  recordings?: number;
  /** Times each search runs. @default 20 */
  runs?: number;
  /** Only SQLite. @default false */
  sqliteOnly?: boolean;
  log: (line: string) => void;
}

/** One backend's figures. */
export interface SearchBackendResult {
  index_s: number;
  index_mbps: number;
  searches: { query: string; user: string | null; hits: number; p50_ms: number; p99_ms: number }[];
}

/** What {@linkcode runSearchBench} measured. */
export interface SearchBenchResult {
  recordings: number;
  output_mb: number;
  target_p99_ms: number;
  backends: Partial<Record<"sqlite" | "postgres", SearchBackendResult>>;
  pass: boolean;
}

const TARGET_P99_MS = 200;
const USERS = ["alice", "bob", "carol", "dave", "erin"];
/** The rare word: in one line of every 100th recording. */
const RARE = "zanzibarquux";
const SEARCHES: { query: string; user?: string }[] = [
  { query: RARE },
  { query: "error" },
  { query: "connection refused" },
  { query: "worker-1" },
  { query: "permission denied while" },
  { query: "nowhereword" },
  { query: "error", user: "carol" },
  { query: RARE, user: "bob" },
];

/** A small seeded random generator (mulberry32): the same recordings every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "INFO",
  "WARN",
  "error",
  "debug",
  "request",
  "served",
  "connection",
  "refused",
  "timeout",
  "retrying",
  "job",
  "processed",
  "queue",
  "deploy",
  "build",
  "compiled",
  "module",
  "package",
  "installed",
  "permission",
  "denied",
  "while",
  "opening",
  "file",
  "directory",
  "root",
  "home",
  "user",
  "config",
  "service",
  "started",
  "stopped",
  "healthy",
];

/** One recording: asciicast v2 with lines of log-like output, `bytes` of output in all. */
function recording(index: number, bytes: number): string {
  const next = random(index + 1);
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)];
  const events = [JSON.stringify({ version: 2, width: 120, height: 40, timestamp: 1 })];
  let written = 0;
  let time = 0;
  let lineNo = 0;
  while (written < bytes) {
    const words = Array.from(
      { length: 6 + Math.floor(next() * 8) },
      () => next() < 0.2 ? Math.floor(next() * 1e6).toString(16) : pick(WORDS),
    );
    if (index % 100 === 0 && lineNo === 500) words.push(RARE);
    const line = `\x1b[32m2026-12-03T11:${String(lineNo % 60).padStart(2, "0")}\x1b[0m worker-${
      index % 40
    } ${words.join(" ")}\r\n`;
    time += next() * 0.05;
    events.push(JSON.stringify([Number(time.toFixed(6)), "o", line]));
    written += line.length;
    lineNo++;
  }
  return events.join("\n") + "\n";
}

/** Writes and indexes the recordings; returns how long indexing took. */
async function fill(
  store: Store,
  options: Required<Pick<SearchBenchOptions, "outputMb" | "recordings">>,
  log: (line: string) => void,
): Promise<number> {
  // Indexing at full speed: auth paces it to a share of the loop, which would time the pace.
  const indexer = new RecordingIndexer(store, createLogger({ level: "error" }), 1);
  const perRecording = Math.round(options.outputMb * 1e6 / options.recordings);
  let indexMs = 0;
  for (let i = 0; i < options.recordings; i++) {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
    await store.sessions.create({
      id,
      user: USERS[i % USERS.length],
      login: "root",
      node: `node-${i % 20}`,
      kind: "ssh",
      started: Date.now() - (options.recordings - i) * 60_000,
      cols: 120,
      rows: 40,
      recordingPath: `${id}.cast`,
      proxyId: null,
    });
    await store.recordings.append(id, 0, new TextEncoder().encode(recording(i, perRecording)));
    await store.sessions.end(id, Date.now(), 0);
    const start = performance.now();
    indexer.update(id);
    await indexer.settled();
    indexMs += performance.now() - start;
    if ((i + 1) % 100 === 0) log(`  ${i + 1} recordings written and indexed`);
  }
  await indexer.close();
  return indexMs;
}

async function measure(
  store: Store,
  options: Required<Omit<SearchBenchOptions, "log" | "sqliteOnly">>,
  log: (line: string) => void,
  settle: () => Promise<void> = () => Promise.resolve(),
): Promise<SearchBackendResult> {
  const indexMs = await fill(store, options, log);
  await settle();
  const indexer = new RecordingIndexer(store, createLogger({ level: "error" }));
  const searches: SearchBackendResult["searches"] = [];
  for (const { query, user } of SEARCHES) {
    const times: number[] = [];
    let hits = 0;
    for (let run = 0; run < options.runs; run++) {
      const start = performance.now();
      // What auth does for the recordings page: the matches, then their sessions.
      const found = await indexer.search(query, { user, limit: 50 });
      for (const id of new Set(found.map((hit) => hit.sessionId))) await store.sessions.get(id);
      times.push(performance.now() - start);
      hits = found.length;
    }
    searches.push({
      query,
      user: user ?? null,
      hits,
      p50_ms: round(percentile(times, 50), 1),
      p99_ms: round(percentile(times, 99), 1),
    });
  }
  return {
    index_s: round(indexMs / 1000),
    index_mbps: round(options.outputMb / (indexMs / 1000)),
    searches,
  };
}

/** Writes, indexes and searches the recordings on each backend. */
export async function runSearchBench(options: SearchBenchOptions): Promise<SearchBenchResult> {
  const sizes = {
    outputMb: options.outputMb ?? 500,
    recordings: options.recordings ?? 1000,
    runs: options.runs ?? 20,
  };
  const result: SearchBenchResult = {
    recordings: sizes.recordings,
    output_mb: sizes.outputMb,
    target_p99_ms: TARGET_P99_MS,
    backends: {},
    pass: false,
  };
  const dir = await Deno.makeTempDir({ prefix: "postern-bench-search-" });
  try {
    options.log(`search: ${sizes.recordings} recordings, ${sizes.outputMb} MB, on SQLite...`);
    const sqlite = SqliteStore.open(dir);
    try {
      result.backends.sqlite = await measure(sqlite, sizes, options.log);
    } finally {
      await sqlite.close();
    }
    if (!options.sqliteOnly) {
      options.log(`search: the same on PostgreSQL...`);
      await using pg = await startPostgres();
      const url = await pg.createDatabase();
      const postgres = await PostgresStore.open({ url });
      // What autovacuum does after a bulk of inserts: statistics the planner
      // needs to tell a rare word from a common one.
      const analyze = async () => {
        const sql = pgClient(url, { onnotice: () => {} });
        await sql`ANALYZE`;
        await sql.end();
      };
      try {
        result.backends.postgres = await measure(postgres, sizes, options.log, analyze);
      } finally {
        await postgres.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  result.pass = Object.values(result.backends).every((backend) =>
    backend.searches.every((s) => s.p99_ms < TARGET_P99_MS)
  );
  return result;
}

/** The result as a table. */
export function formatSearchResult(result: SearchBenchResult): string {
  const backends = Object.entries(result.backends);
  const rows = [["search (50 matches at most)", ...backends.map(([name]) => `${name} p50 / p99`)]];
  const first = backends[0]?.[1];
  for (const [i, search] of (first?.searches ?? []).entries()) {
    rows.push([
      `"${search.query}"${search.user ? ` (${search.user}'s only)` : ""}: ${search.hits} matches`,
      ...backends.map(([, b]) => `${b.searches[i].p50_ms} / ${b.searches[i].p99_ms} ms`),
    ]);
  }
  rows.push([
    "indexing (as recordings are written)",
    ...backends.map(([, b]) => `${b.index_mbps} MB/s (${b.index_s} s)`),
  ]);
  return formatTable(rows);
}

if (import.meta.main) {
  const value = (name: string, fallback: number) => {
    const at = Deno.args.indexOf(name);
    return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
  };
  const result = await runSearchBench({
    outputMb: value("--search-mb", 500),
    recordings: value("--search-recordings", 1000),
    runs: value("--search-runs", 20),
    sqliteOnly: Deno.args.includes("--search-sqlite-only"),
    log: (line) => console.error(line),
  });
  console.log(formatSearchResult(result));
  if (!result.pass) Deno.exitCode = 1;
}
