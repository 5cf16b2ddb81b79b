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
 * @returns the bytes moved each way
 * @example
 * ```ts
 * node.forwardOut(srcIP, srcPort, destIP, destPort, (error, toNode) => {
 *   if (!error) void joinChannels(accept(), toNode);
 * });
 * ```
 */
export function joinChannels(a: ChannelLike, b: ChannelLike): Promise<JoinResult> {
  const result: JoinResult = { forward: 0, back: 0 };
  return new Promise((resolve) => {
    let settled = false;
    let open = 2;
    const settle = () => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    pipeOneWay(a, b, (n) => (result.forward += n));
    pipeOneWay(b, a, (n) => (result.back += n));
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

function pipeOneWay(from: ChannelLike, to: ChannelLike, count: (n: number) => void): void {
  from.on("data", (chunk: Uint8Array) => {
    count(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once("drain", () => from.resume());
    }
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
