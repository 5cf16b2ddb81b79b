/**
 * What recording to disk costs, apart from postern: a recorded session writes
 * everything it carries to a new file, and what a new file's bytes cost
 * depends on the machine. On the 2-core benchmark VM, `dd` of 300 MB into a
 * new file on the root disk takes 0.5–1 s of kernel CPU (fresh page-cache
 * pages), more than the whole unrecorded relay (c) spends on the same bytes,
 * while tmpfs takes a fifth of that. So the recorded path (g) is measured
 * twice: recording into the data dir as deployed, and (g*) with the
 * recordings on tmpfs, which shows postern's own cost; and the cost of
 * writing a new file of the same size is measured in both places.
 *
 * @module
 */

import process from "node:process";
import { statfs } from "node:fs/promises";
import { type PathResult, runTransfers, transferPaths } from "./transfer.ts";
import { setUpBench } from "./setup.ts";
import { round } from "./stats.ts";
import { writeAll } from "../../lib/net/bytes.ts";

/** Where tmpfs is expected. */
const TMPFS = "/dev/shm";
/** Bytes per write, as the recorder's batches. */
const WRITE_BYTES = 256 * 1024;

/** Writing a new file of the transfer's size in one directory. */
export interface FileWriteCost {
  dir: string;
  mbps: number;
  /** CPU of this process (its threads, kernel time included) per MB written. */
  cpu_ms_per_mb: number;
}

/** The recorded path with its recordings on tmpfs, and the write costs. */
export interface RecordingDiskResult {
  /** (g*): the recorded path, recordings on tmpfs. */
  tmpfs: PathResult;
  /** A new file in the data dir's recordings directory, and one on tmpfs. */
  writes: { disk: FileWriteCost; tmpfs: FileWriteCost };
}

/**
 * Times writing `bytes` into a new file in `dir` (then deleted), in the
 * recorder's batch size.
 *
 * @param dir where
 * @param bytes how much
 * @returns throughput and CPU per MB
 */
export async function newFileWriteCost(dir: string, bytes: number): Promise<FileWriteCost> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/postern-bench-write-${crypto.randomUUID()}`;
  const chunk = new Uint8Array(WRITE_BYTES).fill(0x61);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    for (let written = 0; written < bytes; written += chunk.length) await writeAll(file, chunk);
  } finally {
    file.close();
  }
  const ms = performance.now() - started;
  const { user, system } = process.cpuUsage(cpuBefore);
  await Deno.remove(path);
  const mb = bytes / 1e6;
  return {
    dir,
    mbps: round(mb / (ms / 1000)),
    cpu_ms_per_mb: round((user + system) / 1000 / mb, 2),
  };
}

/** Options of {@link runRecordedOnTmpfs}. */
export interface RecordedOnTmpfsOptions {
  cipher: string;
  bytes: number;
  runs: number;
  overheadRuns: number;
  /** The data dir's recordings directory of the main cluster, for its write cost. */
  diskRecordings: string;
  log(line: string): void;
}

/**
 * Runs (g*) on a cluster of its own whose recordings are on tmpfs, and
 * measures new-file writes on both.
 *
 * @returns the figures, or why they were skipped (no tmpfs, or too little room on it)
 */
export async function runRecordedOnTmpfs(
  options: RecordedOnTmpfsOptions,
): Promise<RecordingDiskResult | { skipped: string }> {
  // Every run's recording, with room to spare for JSON escaping.
  const needed = options.bytes * 1.2 * options.runs;
  const room = await statfs(TMPFS).then((s) => s.bavail * s.bsize, () => 0);
  if (room < needed) {
    return {
      skipped: `${TMPFS} has ${round(room / 1e6, 0)} MB free; (g*) needs ${round(needed / 1e6, 0)}`,
    };
  }
  const recordings = await Deno.makeTempDir({ dir: TMPFS, prefix: "postern-bench-recordings-" });
  try {
    const writes = {
      disk: await newFileWriteCost(options.diskRecordings, options.bytes),
      tmpfs: await newFileWriteCost(recordings, options.bytes),
    };
    options.log(
      `new-file writes: data dir ${writes.disk.mbps} MB/s (${writes.disk.cpu_ms_per_mb} ms CPU/MB), ` +
        `tmpfs ${writes.tmpfs.mbps} MB/s (${writes.tmpfs.cpu_ms_per_mb} ms CPU/MB)`,
    );
    options.log("(g*) the recorded path on a cluster whose recordings are on tmpfs...");
    await using env = await setUpBench(options.log, options.cipher, { recordingsDir: recordings });
    const recorded = transferPaths(env).find((p) => p.id === "recorded")!;
    const [tmpfs] = await runTransfers(
      env,
      [{ ...recorded, id: "recorded_tmpfs", label: "(g*) recorded, recordings on tmpfs" }],
      {
        proxyPid: env.cluster.postern.child.pid,
        bytes: options.bytes,
        runs: options.runs,
        overheadRuns: options.overheadRuns,
        log: options.log,
      },
    );
    return { tmpfs, writes };
  } finally {
    await Deno.remove(recordings, { recursive: true });
  }
}
