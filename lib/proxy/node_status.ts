/**
 * Whether nodes answer, as the nodes page shows it: the last time the proxy
 * reached a node (a terminal or file transfer logged in, or failed to), or
 * else a cheap probe that opens a TCP connection and reads the node's SSH
 * banner. Probes run only for nodes someone is looking at on the nodes page
 * (`postern ls` and other API clients get what is known), and at most once
 * per {@linkcode NodeStatusOptions.maxAgeMs} per node, a few at a time, in
 * the background: listing nodes never waits for them.
 *
 * @module
 */

import { parseHostPort } from "../config/schema.ts";
import { isKind } from "../errors.ts";
import { networkFailureReason } from "../net/failure_reason.ts";

/** What is known of a node: answering, not, or not yet checked. */
export interface Reachability {
  state: "online" | "offline" | "unknown";
  /** When it was last checked (epoch ms); null before the first check. */
  checked: number | null;
  /** Why it is offline. */
  reason?: string;
}

/** Checks a node at `addr` ("host:port"): null when it answered as sshd, else why not. */
export type Probe = (addr: string, timeoutMs: number) => Promise<string | null>;

/** Options of {@linkcode NodeStatus}. */
export interface NodeStatusOptions {
  /** A node checked longer ago than this is probed again when listed. @default 60000 */
  maxAgeMs?: number;
  /** How long a probe waits for the banner. @default 5000 */
  timeoutMs?: number;
  /** Probes at once. @default 8 */
  concurrency?: number;
  /** @default {@linkcode probeSshBanner} */
  probe?: Probe;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Connects to `addr` and reads the first bytes: an SSH server starts with
 * "SSH-". The proxy sends its own banner before closing, so sshd logs a
 * client that left rather than a protocol error.
 */
export async function probeSshBanner(addr: string, timeoutMs: number): Promise<string | null> {
  const target = parseHostPort(addr);
  if (!target) return `"${addr}" is not a host:port address`;
  const timeout = AbortSignal.timeout(timeoutMs);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: target.hostname, port: target.port, signal: timeout });
    const buffer = new Uint8Array(64);
    const read = await Promise.race([
      conn.read(buffer),
      new Promise<"timeout">((resolve) =>
        timeout.addEventListener("abort", () => resolve("timeout"))
      ),
    ]);
    if (read === "timeout") return `no SSH banner within ${Math.round(timeoutMs / 1000)} s`;
    if (read === null) return "the connection closed before an SSH banner";
    const banner = new TextDecoder().decode(buffer.subarray(0, read));
    if (!banner.startsWith("SSH-")) return "something other than an SSH server answers there";
    await conn.write(new TextEncoder().encode("SSH-2.0-postern-probe\r\n")).catch(() => {});
    return null;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
    if (timeout.aborted) return `no answer within ${Math.round(timeoutMs / 1000)} s`;
    return networkFailureReason(error);
  } finally {
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}

/**
 * What a failed login to a node says about it: the reason it is offline
 * when it could not be reached, null when it answered (it refused the
 * login, or the handshake failed after it answered), undefined when the
 * attempt was cancelled and says nothing.
 */
export function unreachableReason(error: unknown): string | null | undefined {
  if (!isKind(error, "unavailable")) return null;
  const cannot = /^Cannot connect to .*?: (.*)$/.exec(error.message);
  if (!cannot) return null;
  return cannot[1] === "cancelled" ? undefined : cannot[1];
}

/** The proxy's knowledge of which nodes answer. */
export class NodeStatus {
  #known = new Map<string, Reachability & { addr: string }>();
  #probing = new Set<string>();
  #queue: { name: string; addr: string }[] = [];
  #running = 0;
  readonly #maxAgeMs: number;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  readonly #probe: Probe;
  readonly #now: () => number;

  constructor(options: NodeStatusOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#concurrency = options.concurrency ?? 8;
    this.#probe = options.probe ?? probeSshBanner;
    this.#now = options.now ?? Date.now;
  }

  /** Records the outcome of reaching a node for a user (null reason: it answered). */
  record(name: string, addr: string, reason: string | null): void {
    this.#known.set(name, {
      addr,
      checked: this.#now(),
      ...(reason === null ? { state: "online" } : { state: "offline", reason }),
    });
  }

  /**
   * What is known of each of `nodes` now. With `probe`, those not checked
   * lately (or whose address changed) are probed in the background for the
   * next time.
   */
  of(
    nodes: readonly { name: string; addr: string }[],
    options: { probe: boolean } = { probe: true },
  ): Map<string, Reachability> {
    const now = this.#now();
    const out = new Map<string, Reachability>();
    for (const { name, addr } of nodes) {
      const known = this.#known.get(name);
      const current = known?.addr === addr ? known : undefined;
      out.set(
        name,
        current
          ? { state: current.state, checked: current.checked, reason: current.reason }
          : { state: "unknown", checked: null },
      );
      const stale = !current || now - (current.checked ?? 0) > this.#maxAgeMs;
      if (options.probe && stale) this.#enqueue(name, addr);
    }
    return out;
  }

  /** Resolves when no probe is queued or running (tests wait for it). */
  async settled(): Promise<void> {
    while (this.#running > 0 || this.#queue.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #enqueue(name: string, addr: string): void {
    if (this.#probing.has(name)) return;
    this.#probing.add(name);
    this.#queue.push({ name, addr });
    this.#drain();
  }

  #drain(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0) {
      const { name, addr } = this.#queue.shift()!;
      this.#running++;
      this.#probe(addr, this.#timeoutMs)
        .catch((error) => networkFailureReason(error))
        .then((reason) => this.record(name, addr, reason))
        .finally(() => {
          this.#running--;
          this.#probing.delete(name);
          this.#drain();
        });
    }
  }
}
