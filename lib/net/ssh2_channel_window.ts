/**
 * Fixes how ssh2 1.17 resumes a server channel's writes when the client
 * opens its window (CHANNEL_WINDOW_ADJUST), for sessions that write stdout
 * and stderr at once (a recorded session ending with a message, a command
 * printing to both):
 *
 * - ssh2 resumes stdout, or else stderr, never both: when both waited,
 *   stderr waits until the next adjust, which may never come (the client
 *   has nothing left to acknowledge), and the session hangs;
 * - ssh2 never forgets a resumed chunk: a later adjust, with only stderr
 *   waiting, sends the old stdout chunk again (duplicate output) and calls
 *   its callback twice, while stderr still waits.
 *
 * The fix wraps the two `_write` methods: a write forgets what waited before
 * it (it is that data), and once stdout has nothing waiting, stderr waiting
 * for window is resumed at once, or marked to be resumed by the next adjust. Applied only to the ssh2 version whose code
 * this was read from; `installChannelWindowFix` says whether it applied.
 *
 * @module
 */

import { ssh2ChannelModule, ssh2VersionMatches } from "./ssh2_internals.ts";

type WriteCallback = (error?: Error | null) => void;
type Write = (data: Uint8Array, encoding: unknown, callback: WriteCallback) => void;

/** The fields of ssh2's Channel this fix reads and clears. */
interface ChannelState {
  outgoing: { window: number };
  _waitWindow: boolean;
  stderr: { _write: Write };
  _chunk?: Uint8Array;
  _chunkcb?: WriteCallback;
  _chunkErr?: Uint8Array;
  _chunkcbErr?: WriteCallback;
}

let installed = false;

/**
 * Patches ssh2's channel writes once per process.
 *
 * @returns true when the fix is in place (false: another ssh2 version)
 */
export function installChannelWindowFix(): boolean {
  if (installed) return true;
  if (!ssh2VersionMatches) return false;
  const { Channel } = ssh2ChannelModule;
  const channelProto = Channel.prototype as { _write: Write };
  // ServerStderr is not exported: reach its prototype through a channel that is never used.
  const probe = new Channel({}, { type: "session", incoming: {}, outgoing: {} }, { server: true });
  const stderrProto = Object.getPrototypeOf((probe as ChannelState).stderr) as {
    _write: Write;
    _channel?: ChannelState;
  };
  if (typeof channelProto._write !== "function" || typeof stderrProto._write !== "function") {
    return false;
  }
  const writeStdout = channelProto._write;
  const writeStderr = stderrProto._write;
  channelProto._write = function (this: ChannelState, data, encoding, callback) {
    // What waited for window is being written now: a later adjust must not send it again.
    this._chunk = undefined;
    this._chunkcb = undefined;
    writeStdout.call(this, data, encoding, callback);
    resumeStderr(this);
  };
  stderrProto._write = function (this: { _channel: ChannelState }, data, encoding, callback) {
    this._channel._chunkErr = undefined;
    this._channel._chunkcbErr = undefined;
    writeStderr.call(this, data, encoding, callback);
  };
  installed = true;
  return true;
}

/**
 * Stdout has nothing waiting: stderr waiting for window goes on now, or (no
 * window left) at the next adjust, which ssh2 would otherwise ignore.
 */
function resumeStderr(channel: ChannelState): void {
  if (channel._chunk !== undefined || channel._chunkErr === undefined) return;
  if (channel.outgoing.window > 0) {
    channel.stderr._write(channel._chunkErr, null, channel._chunkcbErr!);
  } else {
    channel._waitWindow = true;
  }
}
