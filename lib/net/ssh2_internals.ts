/**
 * The one door to ssh2's internals. postern reaches past ssh2's public API
 * in a few places (libcrypto ciphers, the host certificate, certificate
 * login, the userauth banner, agent forwarding, the channel window fix, the
 * relay's zero-copy writes); every such import and every shape they rely on
 * is here, checked against the pinned ssh2 version by
 * {@linkcode ssh2InternalsProblems}, which the gateway runs at start. A hook
 * whose internals are missing turns itself off (no banner, no fast cipher, no
 * agent forwarding) instead of failing mid-connection.
 *
 * tests/unit/ssh2_internals_test.ts asserts that the pinned version has every
 * shape; each hook has its own contract test.
 *
 * @module
 */

import ssh2Package from "ssh2/package.json" with { type: "json" };
// ssh2 internals have no type declarations: each is typed where it is used.
import ssh2Crypto from "ssh2/lib/protocol/crypto.js";
import channelModule from "ssh2/lib/Channel.js";
import Protocol from "ssh2/lib/protocol/Protocol.js";
import protocolUtils from "ssh2/lib/protocol/utils.js";
import protocolConstants from "ssh2/lib/protocol/constants.js";

/** The ssh2 release whose internals every hook was written and checked against. */
export const SSH2_VERSION = "1.17.0";

/** Whether the installed ssh2 is the one the hooks were checked against. */
export const ssh2VersionMatches: boolean = ssh2Package.version === SSH2_VERSION;

/** ssh2's protocol crypto module (cipher info, createCipher/createDecipher). */
// deno-lint-ignore no-explicit-any
export const ssh2CryptoModule: any = ssh2Crypto;

/** ssh2's Channel module: the Channel class and its window constants. */
export const ssh2ChannelModule = channelModule as {
  Channel: new (...args: unknown[]) => unknown;
  MAX_WINDOW: number;
  PACKET_SIZE: number;
};

/** ssh2's Protocol class (its prototype holds authPK and the packet writers). */
export const ssh2ProtocolClass = Protocol as { prototype: Record<string, unknown> };

/** ssh2's internal `sendPacket(protocol, packet)`: handles encryption and rekeying queues. */
export const ssh2SendPacket = (protocolUtils as Record<string, unknown>).sendPacket as (
  protocol: unknown,
  packet: Uint8Array,
) => void;

/** The per-connection internals hooks reach through a `Connection` or `Client`. */
export interface ConnectionInternals {
  _protocol?: Record<string, unknown> & {
    _packetRW?: {
      write?: { allocStart?: number; alloc?: unknown; finalize?: unknown };
    };
  };
  _chanMgr?: { add?: unknown };
}

/** A connection's internals, for hooks that check what they use before using it. */
export function connectionInternals(connection: unknown): ConnectionInternals {
  return (connection ?? {}) as ConnectionInternals;
}

/**
 * What the hooks rely on that this ssh2 lacks; empty when all is in place.
 * Run once at start: each problem names what is turned off.
 */
export function ssh2InternalsProblems(): string[] {
  const problems: string[] = [];
  if (!ssh2VersionMatches) {
    problems.push(
      `ssh2 ${ssh2Package.version} is not ${SSH2_VERSION}: libcrypto ciphers, the host certificate and the channel window fix are off`,
    );
  }
  const need = (what: string, ok: boolean, off: string) => {
    if (!ok) problems.push(`ssh2 lacks ${what}: ${off}`);
  };
  need(
    "protocol/crypto CIPHER_INFO",
    typeof ssh2CryptoModule?.CIPHER_INFO === "object",
    "libcrypto ciphers are off",
  );
  need(
    "Channel._write",
    typeof (ssh2ChannelModule.Channel?.prototype as Record<string, unknown>)?._write ===
      "function",
    "the channel window fix is off",
  );
  need(
    "Channel window constants",
    Number.isInteger(ssh2ChannelModule.MAX_WINDOW) &&
      Number.isInteger(ssh2ChannelModule.PACKET_SIZE),
    "agent forwarding is off",
  );
  need(
    "Protocol.authPK",
    typeof ssh2ProtocolClass.prototype?.authPK === "function",
    "certificate login to nodes fails",
  );
  need(
    "Protocol.openssh_authAgent",
    typeof ssh2ProtocolClass.prototype?.openssh_authAgent === "function",
    "agent forwarding is off",
  );
  need("utils.sendPacket", typeof ssh2SendPacket === "function", "login banners are off");
  need(
    "protocol/constants SUPPORTED_* lists",
    ssh2SupportedAlgorithms().kex.length > 0,
    "proxy.ssh_algorithms cannot be checked",
  );
  return problems;
}

/** The algorithm names ssh2 implements, by kind (what a site may configure). */
export function ssh2SupportedAlgorithms(): Record<"kex" | "cipher" | "hmac", string[]> {
  const constants = protocolConstants as Record<string, unknown>;
  const names = (key: string) => Array.isArray(constants[key]) ? constants[key] as string[] : [];
  return {
    kex: names("SUPPORTED_KEX"),
    cipher: names("SUPPORTED_CIPHER"),
    hmac: names("SUPPORTED_MAC"),
  };
}
