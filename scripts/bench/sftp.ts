/**
 * File transfer through the recorded path: stock `sftp` puts and gets an
 * N MB file through `root:saturn@proxy` (the proxy logs in to the node,
 * relays its sftp subsystem and audits every file) beside `sftp` straight to
 * the node, aes128-gcm on every hop. Each path's fixed cost (connect,
 * handshakes, auth: an sftp batch that only quits) is measured too, and
 * throughput is shown raw and net of it. Runs are interleaved; medians are
 * reported. Target: the recorded path ≥ 0.7× direct, both ways.
 *
 * @module
 */

import type { BenchEnv } from "./setup.ts";
import { formatTable, mbps, median, round, shellQuote, timeCommand } from "./stats.ts";

/** The recorded path's share of direct sftp throughput the bench expects. */
export const TARGET_SFTP_RATIO = 0.7;

/** Figures of one direction of one path. */
interface SftpDirection {
  runs_ms: number[];
  mbps_raw: number;
  mbps_net: number;
}

/** Figures of one path. */
interface SftpPath {
  label: string;
  overhead_ms: number;
  upload: SftpDirection;
  download: SftpDirection;
}

/** What {@link runSftpBench} measured. */
export interface SftpResult {
  file_mb: number;
  direct: SftpPath;
  recorded: SftpPath;
  /** recorded / direct, raw and net of the handshake. */
  ratios: { upload: { raw: number; net: number }; download: { raw: number; net: number } };
  target: number;
  pass: boolean;
}

/** Options of {@link runSftpBench}. */
export interface SftpBenchOptions {
  fileMb: number;
  runs: number;
  overheadRuns: number;
  log(line: string): void;
}

/**
 * Measures sftp put and get, recorded path against direct.
 *
 * @param env the running environment (cluster, node, ssh config)
 * @param options file size, run counts, progress output
 * @returns the figures and whether the target is met (on the raw or the net ratio)
 */
export async function runSftpBench(
  env: BenchEnv,
  options: SftpBenchOptions,
): Promise<SftpResult> {
  const bytes = Math.round(options.fileMb * 1e6);
  const local = `${env.dir}/sftp-local.bin`;
  const remote = `${env.dir}/sftp-remote.bin`;
  const back = `${env.dir}/sftp-back.bin`;
  await timeCommand(`head -c ${bytes} /dev/urandom > ${shellQuote(local)}`);
  const sftp = `sftp -F ${shellQuote(env.sshConfig)} -b -`;
  const paths = {
    direct: `${sftp} -P ${env.cluster.sshd.port} root@127.0.0.1`,
    recorded: `${sftp} -P ${env.cluster.postern.sshPort} -o User=root:${env.nodeName} 127.0.0.1`,
  };
  const batch = (commands: string) => `printf '%s\\n' ${commands} | `;
  const scripts = (target: string) => ({
    overhead: `${batch("bye")}${target} > /dev/null`,
    upload: `${batch(shellQuote(`put ${local} ${remote}`))}${target} > /dev/null`,
    download: `${batch(shellQuote(`get ${remote} ${back}`))}${target} > /dev/null`,
  });
  const times = {
    direct: { overhead: [] as number[], upload: [] as number[], download: [] as number[] },
    recorded: { overhead: [] as number[], upload: [] as number[], download: [] as number[] },
  };
  options.log(`sftp: ${options.fileMb} MB, ${options.runs} runs per path and direction...`);
  for (const [name, target] of Object.entries(paths) as [keyof typeof paths, string][]) {
    // Warm-up, and a check that the path moves the right bytes.
    await timeCommand(scripts(target).upload);
    await timeCommand(scripts(target).download);
    await timeCommand(`cmp ${shellQuote(local)} ${shellQuote(back)}`).catch((error) => {
      throw new Error(`sftp ${name} corrupted the file: ${(error as Error).message}`);
    });
  }
  for (let run = 0; run < options.overheadRuns; run++) {
    for (const name of ["direct", "recorded"] as const) {
      times[name].overhead.push((await timeCommand(scripts(paths[name]).overhead)).ms);
    }
  }
  for (let run = 0; run < options.runs; run++) {
    for (const name of ["direct", "recorded"] as const) {
      const { upload, download } = scripts(paths[name]);
      const up = (await timeCommand(upload)).ms;
      const down = (await timeCommand(download)).ms;
      times[name].upload.push(up);
      times[name].download.push(down);
      options.log(
        `  run ${run + 1}/${options.runs}  sftp ${name.padEnd(8)}  up ${
          round(mbps(bytes, up), 0)
        } MB/s   down ${round(mbps(bytes, down), 0)} MB/s`,
      );
    }
  }
  const figures = (label: string, t: typeof times.direct): SftpPath => {
    const overhead = median(t.overhead);
    const direction = (runs: number[]): SftpDirection => ({
      runs_ms: runs.map((ms) => round(ms)),
      mbps_raw: round(mbps(bytes, median(runs))),
      mbps_net: round(mbps(bytes, Math.max(1, median(runs) - overhead))),
    });
    return {
      label,
      overhead_ms: round(overhead),
      upload: direction(t.upload),
      download: direction(t.download),
    };
  };
  const direct = figures("sftp direct to the node", times.direct);
  const recorded = figures(`sftp root:${env.nodeName}@proxy (recorded)`, times.recorded);
  const ratio = (way: "upload" | "download") => ({
    raw: round(recorded[way].mbps_raw / direct[way].mbps_raw, 2),
    net: round(recorded[way].mbps_net / direct[way].mbps_net, 2),
  });
  const ratios = { upload: ratio("upload"), download: ratio("download") };
  const meets = (r: { raw: number; net: number }) => Math.max(r.raw, r.net) >= TARGET_SFTP_RATIO;
  return {
    file_mb: options.fileMb,
    direct,
    recorded,
    ratios,
    target: TARGET_SFTP_RATIO,
    pass: meets(ratios.upload) && meets(ratios.download),
  };
}

/** The table of {@link runSftpBench}'s figures. */
export function formatSftpResult(result: SftpResult): string {
  const rows = [["path", "handshake", "up MB/s", "up net", "down MB/s", "down net"]];
  for (const path of [result.direct, result.recorded]) {
    rows.push([
      path.label,
      `${path.overhead_ms.toFixed(0)} ms`,
      path.upload.mbps_raw.toFixed(0),
      path.upload.mbps_net.toFixed(0),
      path.download.mbps_raw.toFixed(0),
      path.download.mbps_net.toFixed(0),
    ]);
  }
  const { upload, download } = result.ratios;
  rows.push([
    "recorded / direct",
    "",
    `${upload.raw.toFixed(2)}×`,
    `${upload.net.toFixed(2)}×`,
    `${download.raw.toFixed(2)}×`,
    `${download.net.toFixed(2)}×`,
  ]);
  return formatTable(rows);
}
