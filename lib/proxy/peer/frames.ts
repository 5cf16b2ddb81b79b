/**
 * The proxy-to-proxy link's framing: `type u8, length u32, payload`. One
 * link carries one joiner of one session: the joining proxy sends the join
 * request and the joiner's input; the proxy that runs the session sends its
 * answer, the output (scrollback first) and the session's events.
 *
 * @module
 */

/** Frame types. */
export const Frame = Object.freeze({
  /** joining → running: `{sessionId, mode, proof, via}` JSON. */
  JOIN: 0,
  /** Terminal bytes: output (running → joining) or input (joining → running). */
  DATA: 1,
  /** running → joining: `{event, parties}` JSON (SessionEvent and the parties after it). */
  EVENT: 2,
  /** running → joining: `{info, parties}` JSON, the join was accepted. */
  HELLO: 3,
  /** running → joining: `{kind, message}` JSON, the join was refused. */
  ERROR: 4,
  /** running → joining: `{reason}` JSON, this joiner's view ends. */
  CLOSE: 5,
});

/** Largest payload accepted: output arrives in node-sized chunks, far below. */
export const MAX_FRAME_BYTES = 1 << 20;

/** One frame. */
export function encodeFrame(type: number, payload: Uint8Array | object): Uint8Array {
  const body = payload instanceof Uint8Array
    ? payload
    : new TextEncoder().encode(JSON.stringify(payload));
  const frame = new Uint8Array(5 + body.byteLength);
  frame[0] = type;
  new DataView(frame.buffer).setUint32(1, body.byteLength);
  frame.set(body, 5);
  return frame;
}

/** Reassembles frames from stream chunks; throws on an oversized frame. */
export class FrameReader {
  #buffer = new Uint8Array(0);

  /** Appends `chunk` and returns the frames now complete. */
  push(chunk: Uint8Array): { type: number; payload: Uint8Array }[] {
    const joined = new Uint8Array(this.#buffer.byteLength + chunk.byteLength);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.byteLength);
    const frames = [];
    let at = 0;
    while (joined.byteLength - at >= 5) {
      const length = new DataView(joined.buffer, at + 1, 4).getUint32(0);
      if (length > MAX_FRAME_BYTES) throw new Error(`peer frame of ${length} bytes is too large`);
      if (joined.byteLength - at - 5 < length) break;
      frames.push({ type: joined[at], payload: joined.slice(at + 5, at + 5 + length) });
      at += 5 + length;
    }
    this.#buffer = joined.slice(at);
    return frames;
  }
}

/** A JSON payload. */
export function jsonOf<T>(payload: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(payload)) as T;
}
