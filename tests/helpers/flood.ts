/**
 * A recorded session that pours out a lot of output on demand, and joiners
 * that count what reaches them: for tests and benchmarks of how output fans
 * out to parties (slow joiners, remote observers).
 *
 * @module
 */

import type { TestCluster, TestIdentity } from "./cluster.ts";
import { identityOptions, waitForAudit } from "./gateway.ts";
import type { PosternProcess } from "./postern.ts";
import { defaultSshOptions } from "./sshd.ts";

/** The line that ends a flood's output. */
const LAST_LINE = "flood-done\n";
/** Room for what may follow the last line in the same read: a joiner's notices. */
const NOTICES_ROOM = 1024;

/** Bytes a flood of `bytes` puts out, its last line included. */
export function floodOutputBytes(bytes: number): number {
  return bytes + 1 + LAST_LINE.length;
}

/** A session on a proxy whose command prints `bytes` of "x" when told to. */
export interface FloodSession {
  id: string;
  /**
   * Starts the output and waits until the owner has read all of it and the
   * session ended.
   *
   * @returns the bytes the owner read, when the output was started
   *   (`performance.now()`), and the milliseconds until its last line arrived
   * @throws when the session failed or the owner did not get every byte
   */
  pour(): Promise<{ bytes: number; started: number; ms: number }>;
}

/**
 * Starts a session for `user` (logged in as `identity`) on `proxy` with
 * stock ssh, without a pty, and waits until auth has it.
 *
 * @param seen ids of sessions started before: the new one is not among them (it is added)
 */
export async function startFloodSession(
  cluster: TestCluster,
  proxy: PosternProcess,
  user: string,
  identity: TestIdentity,
  bytes: number,
  seen: Set<unknown>,
): Promise<FloodSession> {
  const child = new Deno.Command("ssh", {
    args: [
      ...defaultSshOptions,
      ...identityOptions(identity),
      "-p",
      String(proxy.sshPort),
      "root:saturn@127.0.0.1",
      `read go; head -c ${bytes} /dev/zero | tr '\\0' x; echo; echo ${LAST_LINE.trim()}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const start = await waitForAudit(
    cluster,
    "session.start",
    (e) => e.user === user && !seen.has(e.session_id),
    30_000,
  );
  seen.add(start.session_id);
  return {
    id: String(start.session_id),
    async pour() {
      const stdin = child.stdin.getWriter();
      const started = performance.now();
      await stdin.write(new TextEncoder().encode("go\n"));
      const counted = await countOutput(child.stdout);
      await stdin.close().catch(() => {});
      const status = await child.status;
      if (status.code !== 0) throw new Error(`the flood session failed: ${await stderr}`);
      if (Number.isNaN(counted.doneAt) || counted.bytes !== floodOutputBytes(bytes)) {
        throw new Error(`the owner got ${counted.bytes} of ${floodOutputBytes(bytes)} bytes`);
      }
      return { bytes: counted.bytes, started, ms: counted.doneAt - started };
    },
  };
}

/**
 * Counts the bytes of `output` until it ends.
 *
 * @returns the bytes, and when (`performance.now()`) a flood's last line
 *   arrived (NaN when it never did; a joiner's notices may follow it)
 */
export async function countOutput(
  output: ReadableStream<Uint8Array>,
): Promise<{ bytes: number; doneAt: number }> {
  let bytes = 0;
  // The end of what came before, for a last line split across two reads.
  let carry = "";
  let doneAt = NaN;
  const decoder = new TextDecoder();
  for await (const chunk of output) {
    bytes += chunk.byteLength;
    if (!Number.isNaN(doneAt)) continue;
    // Searched, not compared with the end: a joiner's notices (the session
    // ended, the owner left) often arrive in the same read as the last line.
    const end = carry + decoder.decode(chunk.subarray(-(LAST_LINE.length + NOTICES_ROOM)));
    if (end.includes(LAST_LINE)) doneAt = performance.now();
    carry = end.slice(-(LAST_LINE.length - 1));
  }
  return { bytes, doneAt };
}
