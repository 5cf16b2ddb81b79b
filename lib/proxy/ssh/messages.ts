/**
 * The one place where errors become what an SSH user sees: a userauth banner
 * before a refusal, a line on the channel's stderr, or a channel-open failure
 * reason, through the one translator of errors to user text (lib/errors.ts).
 *
 * @module
 */

import type { Connection, ServerChannel } from "ssh2";
import { PosternError, toUserMessage } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { connectionInternals, ssh2SendPacket } from "../../net/ssh2_internals.ts";
import { errorShown } from "../../metrics/metrics.ts";

const USERAUTH_BANNER = 53;

/** The text an SSH user sees for an error: {@linkcode toUserMessage} for the gateway. */
export function userMessage(error: unknown, log: Logger): string {
  errorShown("ssh", error instanceof PosternError ? error.kind : "internal");
  return toUserMessage(error, log, "SSH gateway");
}

interface ProtocolInternals {
  _packetRW: {
    write: {
      allocStart: number;
      alloc(
        size: number,
      ): Uint8Array & { utf8Write(s: string, offset: number, length: number): void };
      finalize(packet: Uint8Array): Uint8Array;
    };
  };
}

/**
 * Sends an SSH_MSG_USERAUTH_BANNER (RFC 4252 §5.4): OpenSSH prints it on stderr
 * before "Permission denied", so a refused user learns why. ssh2 only sends a
 * banner once before authentication, so this writes the packet itself. It
 * never throws: without the internals it needs, the refusal goes out without
 * its banner rather than not at all.
 *
 * @returns whether the banner was sent
 */
export function sendAuthBanner(client: Connection, text: string): boolean {
  try {
    writeBanner(client, text);
    return true;
  } catch {
    return false;
  }
}

function writeBanner(client: Connection, text: string): void {
  const protocol = connectionInternals(client)._protocol as unknown as ProtocolInternals;
  const message = text.endsWith("\r\n") ? text : `${text.replace(/\n/g, "\r\n")}\r\n`;
  const length = new TextEncoder().encode(message).length;
  const writer = protocol._packetRW.write;
  let p = writer.allocStart;
  const packet = writer.alloc(1 + 4 + length + 4);
  packet[p] = USERAUTH_BANNER;
  new DataView(packet.buffer, packet.byteOffset).setUint32(++p, length);
  packet.utf8Write(message, p += 4, length);
  new DataView(packet.buffer, packet.byteOffset).setUint32(p + length, 0);
  ssh2SendPacket(protocol, writer.finalize(packet));
}

/** Writes "postern: <message>" to a channel's stderr, sets exit status 1 and closes it. */
export function failChannel(channel: ServerChannel, message: string, exitCode = 1): void {
  try {
    channel.stderr.write(`postern: ${message}\r\n`);
    channel.exit(exitCode);
    channel.end();
  } catch {
    // The client went away first; nothing left to tell.
  }
}

/**
 * Rejects a channel-open request with a reason text (OpenSSH prints it as
 * "open failed: connect failed: <text>"). ssh2's reject() sends an empty
 * description, so the description is injected for this one call.
 */
export function rejectChannelOpen(client: Connection, reject: () => void, text: string): void {
  // deno-lint-ignore no-explicit-any
  const protocol = (client as any)._protocol;
  const original = protocol.channelOpenFail;
  protocol.channelOpenFail = (recipient: number, reason: number) =>
    original.call(protocol, recipient, reason, text);
  try {
    reject();
  } finally {
    protocol.channelOpenFail = original;
  }
}

/**
 * Sends a channel's exit status (RFC 4254 §6.10) even after its EOF, as sshd
 * does: ssh2's `exit()` sends nothing once the channel has sent EOF, but a
 * relayed subsystem's end of output often arrives before its exit status,
 * and scp fails a copy whose ssh reports none.
 */
export function sendExitStatus(channel: ServerChannel, code: number): void {
  const internals = channel as unknown as {
    outgoing: { id: number; state: string };
    _client: { _protocol: { exitStatus(id: number, code: number): void } };
  };
  const { state, id } = internals.outgoing;
  if (state !== "open" && state !== "eof") return;
  internals._client._protocol.exitStatus(id, code);
}
