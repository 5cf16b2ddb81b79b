/**
 * A `node:stream` Duplex over a native `Deno.Conn`, for ssh2.
 *
 * Why: ssh2 under Deno on `node:net` sockets moves ~31 MB/s on loopback with the
 * process mostly idle; the same ssh2 Server fed this Duplex around a `Deno.Conn`
 * moves ~85 MB/s (DESIGN.md, "Known facts about ssh2"). Deno's node:net compat
 * layer is the bottleneck, not the cipher.
 *
 * How it stays fast:
 * - during bulk transfers reads go straight into a slab (256 KiB, up to 64 KiB
 *   per read) taken from the process's buffer pool, and the pushed chunks are
 *   views of it: no copy, few allocations, and a region is never reused once
 *   pushed, so consumers may keep chunks; while the conn is quiet, reads go to
 *   a small buffer and chunks are copies (read_buffers.ts), so an idle
 *   connection holds no slab;
 * - the read loop stops when `push()` returns false and restarts on `_read()`;
 * - `write()` copies the bytes into an output buffer that one flush at a time
 *   hands to `conn.write`: ssh2's many packets become few syscalls, with no
 *   per-chunk queue entries, concatenations or allocations (two buffers from
 *   the pool, given back once everything is sent). `writableLength`, `'drain'`, write callbacks and `end()` after
 *   the last byte behave as for any Writable;
 * - Nagle is off (`setNoDelay(true)`), as interactive SSH needs.
 *
 * ssh2 touches these socket members, all provided: `write`, `end`, `destroy`,
 * `pause`, `resume`, `on('data'|'end'|'close'|'error'|'connect')`, `writable`,
 * `connecting` (false: already connected), `setNoDelay`, `remoteAddress`,
 * `remoteFamily`, `remotePort`.
 *
 * @example
 * ```ts
 * import ssh2 from "ssh2";
 * const server = new ssh2.Server({ hostKeys: [hostKey] }, onClient);
 * for await (const conn of Deno.listen({ port: 3023 })) {
 *   server.injectSocket(denoConnDuplex(conn).asSocket());
 * }
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { OutputBuffers } from "./output_buffers.ts";
import { ReadBuffers } from "./read_buffers.ts";

type WriteCallback = (error?: Error | null) => void;

/** Options of {@link denoConnDuplex}. */
export interface ConnDuplexOptions {
  /**
   * Most bytes asked of the conn per read.
   * @default {65536}
   */
  readSize?: number;
  /**
   * Size of the slabs bulk reads land in.
   * @default {262144}
   */
  slabSize?: number;
  /**
   * Readable and writable high-water marks, in bytes.
   * @default {262144}
   */
  highWaterMark?: number;
  /**
   * Keep the writable side open after the peer's EOF. Off by default, like a
   * `net.Socket`: ssh2 expects the socket to end both ways on EOF.
   * @default {false}
   */
  allowHalfOpen?: boolean;
}

/**
 * A Node-style socket over a `Deno.Conn`: a Duplex with the few `net.Socket`
 * members ssh2 reads. Create it with {@link denoConnDuplex}.
 */
export class ConnDuplex extends Duplex {
  /** Always false: the conn is connected already (ssh2 checks this). */
  readonly connecting = false;
  /** Peer address, like `net.Socket#remoteAddress`. */
  readonly remoteAddress: string | undefined;
  /** Peer port, like `net.Socket#remotePort`. */
  readonly remotePort: number | undefined;
  /** `"IPv4"` or `"IPv6"` for TCP conns. */
  readonly remoteFamily: string | undefined;
  /** Local address, like `net.Socket#localAddress`. */
  readonly localAddress: string | undefined;
  /** Local port, like `net.Socket#localPort`. */
  readonly localPort: number | undefined;
  /** Bytes read from the conn so far. */
  bytesRead = 0;
  /** Bytes written to the conn so far. */
  bytesWritten = 0;

  readonly #conn: Deno.Conn;
  readonly #reads: ReadBuffers;
  #reading = false;
  #wantRead = false;
  #connClosed = false;
  /** Bytes written but not yet handed to the conn. */
  #output = new OutputBuffers();
  #inFlight = 0;
  #callbacks: WriteCallback[] = [];
  #flushing: Promise<void> | undefined;
  #needDrain = false;
  readonly #writeHighWaterMark: number;

  /**
   * Wraps `conn`; prefer {@link denoConnDuplex}.
   *
   * @param conn a connected TCP (or Unix) conn; the Duplex owns it from now on
   * @param options buffer sizes and half-open behaviour
   */
  constructor(conn: Deno.Conn, options: ConnDuplexOptions = {}) {
    const highWaterMark = options.highWaterMark ?? 256 * 1024;
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      readableHighWaterMark: highWaterMark,
      writableHighWaterMark: highWaterMark,
    });
    this.#conn = conn;
    this.#writeHighWaterMark = highWaterMark;
    this.#reads = new ReadBuffers(
      options.readSize ?? 64 * 1024,
      options.slabSize ?? 256 * 1024,
      false,
    );
    const remote = conn.remoteAddr;
    const local = conn.localAddr;
    if (remote.transport === "tcp") {
      this.remoteAddress = remote.hostname;
      this.remotePort = remote.port;
      this.remoteFamily = remote.hostname.includes(":") ? "IPv6" : "IPv4";
    }
    if (local.transport === "tcp") {
      this.localAddress = local.hostname;
      this.localPort = local.port;
    }
    this.setNoDelay(true);
  }

  /**
   * Turns Nagle's algorithm off (true) or on, for TCP conns.
   *
   * @param noDelay true to send small writes at once
   * @returns this
   */
  setNoDelay(noDelay = true): this {
    const tcp = this.#conn as Partial<Deno.TcpConn>;
    if (typeof tcp.setNoDelay === "function") {
      try {
        tcp.setNoDelay(noDelay);
      } catch {
        // The conn is closed already; nothing to tune.
      }
    }
    return this;
  }

  /**
   * Turns TCP keep-alive on or off. The delay argument of `net.Socket` is not
   * supported by Deno and is ignored.
   *
   * @param enable true to send keep-alive probes
   * @returns this
   */
  setKeepAlive(enable = false): this {
    const tcp = this.#conn as Partial<Deno.TcpConn>;
    if (typeof tcp.setKeepAlive === "function") {
      try {
        tcp.setKeepAlive(enable);
      } catch {
        // The conn is closed already.
      }
    }
    return this;
  }

  /**
   * This duplex typed as a `net.Socket`, for APIs whose declarations want one
   * (`server.injectSocket()`, `client.connect({ sock })`). Only the members listed
   * in the module doc exist; ssh2 touches no others.
   *
   * @returns this, typed as a Socket
   */
  asSocket(): Socket {
    return this as unknown as Socket;
  }

  /** Stream internals: (re)starts the read loop. */
  override _read(): void {
    this.#wantRead = true;
    if (!this.#reading) this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    this.#reading = true;
    try {
      while (this.#wantRead && !this.destroyed) {
        const n = await this.#conn.read(this.#reads.next());
        if (this.destroyed) return;
        if (n === null) {
          this.push(null);
          return;
        }
        this.bytesRead += n;
        // _read() may run inside push() and set #wantRead again: clear it first.
        this.#wantRead = false;
        if (this.push(this.#reads.take(n).chunk)) this.#wantRead = true;
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Writes `chunk`: its bytes are copied at once into the output buffer, which
   * the next flush sends. Returns false once `highWaterMark` bytes wait, and
   * emits 'drain' when they have gone out, like any Writable.
   *
   * @param chunk bytes (or a string, with `encoding`)
   * @param encoding the string's encoding, or the callback
   * @param callback called once the bytes are with the kernel, or with an error
   * @returns whether the caller may write more before 'drain'
   */
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    if (typeof encoding === "function") {
      callback = encoding;
      encoding = undefined;
    }
    const bytes = typeof chunk === "string"
      ? Buffer.from(chunk, encoding)
      : chunk instanceof Uint8Array
      ? chunk
      : undefined;
    // Errors (destroyed, ended, a bad chunk) take the Writable's own path.
    if (!bytes || this.destroyed || this.writableEnded) {
      return super.write(chunk, encoding as BufferEncoding, callback);
    }
    this.#output.append(bytes);
    if (callback) this.#callbacks.push(callback);
    this.#flushing ??= this.#flush();
    if (this.#output.length + this.#inFlight < this.#writeHighWaterMark) return true;
    this.#needDrain = true;
    return false;
  }

  /**
   * Ends the writable side after everything written so far.
   *
   * @param chunk last bytes to write, if any
   * @param encoding the string's encoding, or the callback
   * @param callback called on 'finish'
   * @returns this
   */
  override end(
    chunk?: unknown,
    encoding?: BufferEncoding | (() => void),
    callback?: () => void,
  ): this {
    if (typeof chunk === "function") return super.end(chunk as () => void);
    if (typeof encoding === "function") {
      callback = encoding;
      encoding = undefined;
    }
    // Through write(), so the last bytes queue behind the buffered ones.
    if (chunk !== undefined && chunk !== null) this.write(chunk, encoding);
    return super.end(callback);
  }

  // Node declares these as properties but defines them as Writable getters that
  // only see its own queue: count the output buffer too.
  static {
    const writable = Object.getPrototypeOf(ConnDuplex.prototype);
    const length = Object.getOwnPropertyDescriptor(Duplex.prototype, "writableLength")?.get ??
      Object.getOwnPropertyDescriptor(writable, "writableLength")?.get;
    const needDrain = Object.getOwnPropertyDescriptor(Duplex.prototype, "writableNeedDrain")?.get ??
      Object.getOwnPropertyDescriptor(writable, "writableNeedDrain")?.get;
    Object.defineProperties(ConnDuplex.prototype, {
      writableLength: {
        configurable: true,
        get(this: ConnDuplex): number {
          return (length?.call(this) ?? 0) + this.#output.length + this.#inFlight;
        },
      },
      writableNeedDrain: {
        configurable: true,
        get(this: ConnDuplex): boolean {
          return this.#needDrain || Boolean(needDrain?.call(this));
        },
      },
    });
  }

  /** Sends the output buffer until it stays empty; one conn write per round. */
  async #flush(): Promise<void> {
    try {
      while (this.#output.length > 0 && !this.destroyed) {
        const callbacks = this.#callbacks;
        // Later writes fill the other buffer while this one is being sent.
        const data = this.#output.takeBatch();
        this.#callbacks = [];
        this.#inFlight = data.length;
        await this.#writeAll(data);
        this.#inFlight = 0;
        for (const callback of callbacks) callback();
        if (this.#needDrain && this.#output.length < this.#writeHighWaterMark) {
          this.#needDrain = false;
          this.emit("drain");
        }
      }
    } catch (error) {
      // Same policy as a failed read (see #fail): an error for 'error'
      // listeners, otherwise just closed. Buffered writes fail in _destroy.
      this.#inFlight = 0;
      this.#fail(error);
      if (!this.destroyed) this.destroy();
    } finally {
      this.#flushing = undefined;
      this.#output.release();
    }
  }

  /** Stream internals: writes one chunk to the conn. */
  override _write(chunk: Buffer, _encoding: string, callback: (error?: Error | null) => void) {
    this.#writeAll(chunk).then(() => callback(), (error) => this.#writeFailed(error, callback));
  }

  /** Stream internals: writes the chunks queued meanwhile as one buffer. */
  override _writev(
    chunks: { chunk: Buffer; encoding: string }[],
    callback: (error?: Error | null) => void,
  ) {
    const data = chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.#writeAll(data).then(() => callback(), (error) => this.#writeFailed(error, callback));
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      offset += await this.#conn.write(data.subarray(offset));
    }
    this.bytesWritten += data.length;
  }

  /** Stream internals: half-closes the conn once all writes are done. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#drained().then(() => this.#conn.closeWrite()).then(
      () => callback(),
      // The peer is gone already: nothing left to half-close.
      (error) => callback(isGoneError(error) ? null : mapConnError(error)),
    );
  }

  /** Resolves once every buffered byte went to the conn (or the flush failed). */
  async #drained(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /** Stream internals: closes the conn; writes still buffered fail. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#closeConn();
    const callbacks = this.#callbacks.splice(0);
    this.#output.drop();
    this.#reads.close();
    if (!this.#flushing) this.#output.release();
    const dropped = new Error("Cannot write: the socket was destroyed");
    for (const pending of callbacks) pending(error ?? dropped);
    callback(error);
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  /** A write failed: same policy as a failed read (see #fail). */
  #writeFailed(error: unknown, callback: (error?: Error | null) => void): void {
    if (this.listenerCount("error") > 0 && !this.#connClosed) {
      callback(mapConnError(error));
    } else {
      this.destroy();
      callback();
    }
  }

  /**
   * A read failed. Reads cut by our own close are not errors. A reset or broken
   * pipe is reported as a Node-style error when someone listens for 'error',
   * and otherwise just closes the stream: a vanished peer must never crash the
   * process through an unhandled 'error' event.
   */
  #fail(error: unknown): void {
    if (this.destroyed || this.#connClosed) return;
    const mapped = mapConnError(error);
    this.destroy(this.listenerCount("error") > 0 ? mapped : undefined);
  }
}

/**
 * Wraps a connected `Deno.Conn` in a Node-style socket that ssh2's Server
 * (`server.injectSocket(duplex.asSocket())`) and Client (`client.connect({ sock: duplex })`)
 * accept, at about 3× the throughput of `node:net` under Deno.
 *
 * The Duplex owns the conn: destroying or ending it closes the conn.
 *
 * @param conn a connected conn, e.g. from `Deno.connect` or `Deno.listen().accept()`
 * @param options buffer sizes and half-open behaviour
 * @returns the Duplex
 * @example
 * ```ts
 * import ssh2 from "ssh2";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 22 });
 * const client = new ssh2.Client();
 * client.connect({ sock: denoConnDuplex(conn), username: "root" });
 * ```
 */
export function denoConnDuplex(conn: Deno.Conn, options?: ConnDuplexOptions): ConnDuplex {
  return new ConnDuplex(conn, options);
}

/** An Error with a Node-style `code` such as `ECONNRESET`. */
export interface NodeStyleError extends Error {
  /** `ECONNRESET`, `EPIPE`, `ECONNABORTED`, `ECONNREFUSED`, `ETIMEDOUT` or `EIO`. */
  code: string;
}

/**
 * Turns a Deno network error into an Error with the `code` Node (and ssh2) use.
 *
 * @param error what a `Deno.Conn` call threw
 * @returns an Error with a Node-style `code`; the original is its `cause`
 * @example
 * ```ts
 * mapConnError(new Deno.errors.ConnectionReset("reset")).code; // "ECONNRESET"
 * ```
 */
export function mapConnError(error: unknown): NodeStyleError {
  const code = error instanceof Deno.errors.ConnectionReset
    ? "ECONNRESET"
    : error instanceof Deno.errors.BrokenPipe
    ? "EPIPE"
    : error instanceof Deno.errors.ConnectionAborted
    ? "ECONNABORTED"
    : error instanceof Deno.errors.ConnectionRefused
    ? "ECONNREFUSED"
    : error instanceof Deno.errors.TimedOut
    ? "ETIMEDOUT"
    : error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted
    ? "ECONNABORTED"
    : "EIO";
  const message = error instanceof Error ? error.message : String(error);
  return Object.assign(new Error(`${code}: ${message}`, { cause: error }), { code });
}

/** True for errors that only say the conn or its peer is gone. */
export function isGoneError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}
