/**
 * Byte relay between an ssh2 channel (or any Node Duplex) and a native `Deno.Conn`:
 * the data path of the SSH gateway's `proxy:<host>:<port>` tunnel.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { ssh2ChannelModule, ssh2VersionMatches } from "./ssh2_internals.ts";
import { ConnDuplex, isGoneError, mapConnError } from "./conn_duplex.ts";
import { ReadBuffers } from "./read_buffers.ts";

const Ssh2Channel: abstract new (...args: never[]) => unknown = ssh2ChannelModule.Channel;

/**
 * A Node Duplex such as an ssh2 `Channel`. `eof()`, when present (ssh2 channels),
 * sends SSH EOF without closing the channel, so half-close works on server-side
 * channels too, whose `end()` also closes them; `close()`, when present, sends SSH
 * CLOSE once the relay is over.
 */
export type ChannelLike = Duplex & { eof?: () => void; close?: () => void };

/** Options of {@link relay}. */
export interface RelayOptions {
  /**
   * Called after bytes moved: `"up"` is channel → conn (user to node), `"down"`
   * is conn → channel. For metrics and idle tracking; keep it cheap.
   */
  onBytes?: (direction: "up" | "down", bytes: number) => void;
  /** Aborting tears the relay down at once: the conn is closed, the channel ended. */
  signal?: AbortSignal;
  /**
   * Most bytes read from the conn at once during bulk transfers.
   * @default {262144}
   */
  readSize?: number;
}

/** What {@link relay} moved, and why it stopped early if it did. */
export interface RelayResult {
  /** Bytes from the channel to the conn. */
  bytesUp: number;
  /** Bytes from the conn to the channel. */
  bytesDown: number;
  /**
   * Set when the relay did not end by EOF both ways: a reset conn (code
   * `ECONNRESET`...), a channel error, a channel closed early, or the abort reason.
   */
  error?: Error;
}

/** Bulk reads from the conn are carved from slabs this large (read_buffers.ts). */
const SLAB_SIZE = 1024 * 1024;

/**
 * Pumps bytes both ways between `channel` and `conn` until both directions have
 * ended, with backpressure each way and half-close: the channel's EOF becomes
 * `conn.closeWrite()` and the conn's EOF becomes the channel's EOF. Then the conn
 * is closed and the channel ended. Never rejects: an abrupt end is reported in
 * `error`.
 *
 * Up (channel → conn): everything the channel has buffered is taken with one
 * `read()` (one concatenation, like writev) and written in one `conn.write`
 * loop; the channel is not read meanwhile, so its buffer fills and ssh2 stops
 * granting window to the peer. Down (conn → channel): reads land in a small
 * buffer while the conn is quiet and in pooled slabs during bulk transfers
 * (read_buffers.ts), without copies, and a slab goes back to the pool once
 * the channel has copied every chunk of it into packets; when
 * `channel.write()` returns false the pump waits for 'drain'.
 *
 * The relay owns both ends: the channel must not have 'data' listeners.
 *
 * @param channel an ssh2 Channel or other Duplex
 * @param conn a connected conn, closed when the relay ends
 * @param options byte callback, abort signal, read size
 * @returns the bytes moved each way
 * @example
 * ```ts
 * server.on("connection", (client) => client.on("session", (accept) => {
 *   accept().on("subsystem", async (acceptSub) => {
 *     const conn = await Deno.connect({ hostname: "10.0.0.5", port: 22 });
 *     const { bytesUp, bytesDown } = await relay(acceptSub(), conn);
 *   });
 * }));
 * ```
 */
export function relay(
  channel: ChannelLike,
  conn: Deno.Conn,
  options: RelayOptions = {},
): Promise<RelayResult> {
  return new Relay(channel, conn, options).run();
}

class Relay {
  bytesUp = 0;
  bytesDown = 0;
  error: Error | undefined;
  done = false;
  #waiters = new Set<() => void>();
  #pendingWrites = 0;
  #channelClosed = false;

  constructor(
    readonly channel: ChannelLike,
    readonly conn: Deno.Conn,
    readonly options: RelayOptions,
  ) {}

  async run(): Promise<RelayResult> {
    const { channel, options } = this;
    const wake = () => this.#wakeAll();
    const onClose = () => {
      this.#channelClosed = true;
      wake();
    };
    const onError = (error: Error) => this.#stop(error);
    const onAbort = () => this.#stop(abortError(options.signal));
    channel.on("readable", wake).on("drain", wake).on("end", wake);
    channel.on("close", onClose).on("error", onError);
    options.signal?.addEventListener("abort", onAbort);
    try {
      if (options.signal?.aborted) this.#stop(abortError(options.signal));
      await Promise.all([this.#pumpUp(), this.#pumpDown()]);
    } finally {
      this.done = true;
      options.signal?.removeEventListener("abort", onAbort);
      channel.off("readable", wake).off("drain", wake).off("end", wake);
      channel.off("close", onClose).off("error", onError);
      // Keep a listener: a late channel error must not crash the process.
      channel.on("error", () => {});
      this.#closeConn();
      if (!channel.writableEnded) channel.end();
      if (typeof channel.close === "function") channel.close();
      else if (this.error) channel.destroy();
    }
    const result: RelayResult = { bytesUp: this.bytesUp, bytesDown: this.bytesDown };
    if (this.error) result.error = this.error;
    return result;
  }

  /** Waits for the next channel event ('readable', 'drain', 'end', 'close') or a stop. */
  #nextEvent(): Promise<void> {
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  #wakeAll(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const resolve of waiters) resolve();
  }

  async #pumpUp(): Promise<void> {
    const { channel, conn } = this;
    try {
      while (!this.done) {
        const chunk: Buffer | null = channel.read();
        if (chunk !== null) {
          let offset = 0;
          while (offset < chunk.length) offset += await conn.write(chunk.subarray(offset));
          this.bytesUp += chunk.length;
          this.options.onBytes?.("up", chunk.length);
          continue;
        }
        if (channel.readableEnded) {
          await conn.closeWrite();
          return;
        }
        if (this.#channelClosed || channel.destroyed) {
          return this.#stop(new Error("Channel closed before EOF"));
        }
        await this.#nextEvent();
      }
    } catch (error) {
      this.#stop(error);
    }
  }

  async #pumpDown(): Promise<void> {
    const { channel, conn } = this;
    const reads = new ReadBuffers(
      this.options.readSize ?? 256 * 1024,
      SLAB_SIZE,
      copiesOnWrite(channel),
    );
    try {
      while (!this.done) {
        const n = await conn.read(reads.next());
        if (this.done) return;
        if (n === null) break;
        const { chunk, release } = reads.take(n);
        this.bytesDown += n;
        this.options.onBytes?.("down", n);
        this.#pendingWrites++;
        // The channel calls back once it copied the chunk into packets.
        const written = () => {
          release();
          this.#pendingWrites--;
          if (this.#pendingWrites === 0) this.#wakeAll();
        };
        if (!channel.write(chunk, written)) {
          while (!this.done && channel.writableNeedDrain && !this.#channelClosed) {
            await this.#nextEvent();
          }
        }
        if (this.#channelClosed) return this.#stop(new Error("Channel closed before EOF"));
      }
      // EOF from the conn: send EOF once everything before it has gone out.
      while (!this.done && this.#pendingWrites > 0 && !this.#channelClosed) {
        await this.#nextEvent();
      }
      if (this.done) return;
      if (typeof channel.eof === "function") channel.eof();
      else channel.end();
    } catch (error) {
      this.#stop(error);
    } finally {
      reads.close();
    }
  }

  /** Ends the relay early: the first reason wins; reads cut by our own close are ignored. */
  #stop(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    if (!this.error) {
      this.error = reason instanceof Error && !isDenoNetError(reason)
        ? reason
        : mapConnError(reason);
    }
    this.#closeConn();
    this.#wakeAll();
  }

  #closeConn(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/**
 * Whether `channel` is done with a written chunk when its write callback runs:
 * an ssh2 Channel copies the bytes into packets before calling back (ssh2
 * 1.17.0, Channel.js `_write`), and a ConnDuplex copies them on `write()`.
 * Other Duplexes (a Transform, say) may still hold the chunk.
 */
function copiesOnWrite(channel: ChannelLike): boolean {
  return channel instanceof ConnDuplex ||
    (ssh2VersionMatches && channel instanceof Ssh2Channel);
}

function isDenoNetError(error: unknown): boolean {
  return isGoneError(error) || error instanceof Deno.errors.TimedOut;
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason = signal?.reason;
  return reason instanceof Error ? reason : new Error("Relay aborted", { cause: reason });
}
