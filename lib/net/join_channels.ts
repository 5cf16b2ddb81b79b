/**
 * Joining two ssh2 channels end to end, as the gateway does for forwarded
 * ports: one channel to the user, one to the node.
 *
 * @module
 */

import type { ChannelLike } from "./relay.ts";

/** Bytes moved by {@link joinChannels}. */
export interface JoinResult {
  /** From the first channel to the second. */
  forward: number;
  /** From the second channel to the first. */
  back: number;
  /** What `inspect` threw, when it ended the join. */
  error?: unknown;
}

/** Options of {@link joinChannels}. */
export interface JoinOptions {
  /**
   * Sees each chunk before it is passed on (`forward`: from the first channel
   * to the second). A returned promise holds that direction until it settles;
   * a throw (or a rejection) closes both channels at once.
   */
  inspect?: (chunk: Uint8Array, direction: "forward" | "back") => void | Promise<void>;
}

/**
 * Pipes `a` and `b` into each other with backpressure both ways and
 * half-close: one side's EOF becomes the other's EOF (`eof()` on ssh2 server
 * channels, whose `end()` would also close them). When either side closes,
 * the other is ended once its queued writes went out, then closed.
 *
 * Never rejects; resolves once both channels are closed or one failed.
 *
 * @param a a channel
 * @param b another channel
 * @param options an inspector of the bytes
 * @returns the bytes moved each way
 * @example
 * ```ts
 * node.forwardOut(srcIP, srcPort, destIP, destPort, (error, toNode) => {
 *   if (!error) void joinChannels(accept(), toNode);
 * });
 * ```
 */
export function joinChannels(
  a: ChannelLike,
  b: ChannelLike,
  options: JoinOptions = {},
): Promise<JoinResult> {
  const result: JoinResult = { forward: 0, back: 0 };
  return new Promise((resolve) => {
    let settled = false;
    let open = 2;
    const settle = () => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      result.error = error;
      for (const channel of [a, b]) closeNow(channel);
      settle();
    };
    const inspect = options.inspect;
    pipeOneWay(a, b, (chunk) => {
      result.forward += chunk.length;
      return inspect?.(chunk, "forward");
    }, fail);
    pipeOneWay(b, a, (chunk) => {
      result.back += chunk.length;
      return inspect?.(chunk, "back");
    }, fail);
    for (const [self, other] of [[a, b], [b, a]] as const) {
      self.on("close", () => {
        closeAfterFlush(other);
        if (--open === 0) settle();
      });
      self.on("error", () => {
        for (const channel of [a, b]) closeNow(channel);
        settle();
      });
    }
  });
}

function pipeOneWay(
  from: ChannelLike,
  to: ChannelLike,
  seen: (chunk: Uint8Array) => void | Promise<void>,
  fail: (error: unknown) => void,
): void {
  let failed = false;
  from.on("data", (chunk: Uint8Array) => {
    if (failed) return;
    let hold: void | Promise<void>;
    try {
      hold = seen(chunk);
    } catch (error) {
      failed = true;
      return fail(error);
    }
    const waits: Promise<unknown>[] = hold ? [hold] : [];
    if (!to.write(chunk)) waits.push(new Promise((drained) => to.once("drain", drained)));
    if (waits.length === 0) return;
    from.pause();
    Promise.all(waits).then(() => from.resume(), (error) => {
      failed = true;
      fail(error);
    });
  });
  from.on("end", () => {
    if (typeof to.eof === "function") to.eof();
    else if (!to.writableEnded) to.end();
  });
}

function closeAfterFlush(channel: ChannelLike): void {
  if (channel.destroyed) return;
  channel.once("finish", () => closeNow(channel));
  try {
    if (!channel.writableEnded) channel.end();
    else if (channel.writableFinished) closeNow(channel);
  } catch {
    closeNow(channel);
  }
}

function closeNow(channel: ChannelLike): void {
  // A late error on a channel being torn down must not crash the process.
  channel.on("error", () => {});
  try {
    if (typeof channel.close === "function") channel.close();
    else channel.destroy();
  } catch {
    // Closed already.
  }
}
