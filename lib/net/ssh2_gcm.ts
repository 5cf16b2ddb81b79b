/**
 * Faster AES-GCM for ssh2 (ssh2 1.17.0, pinned in deno.json).
 *
 * Why: under Deno, ssh2 seals and opens each `aes*-gcm@openssh.com` packet
 * with `node:crypto` (a `createCipheriv` per packet, then update/final/tag).
 * Profiled on the gateway under a bulk `proxy:` transfer, sealing was ~47% of
 * its busy CPU: Deno's `node:crypto` AES-GCM runs at ~100–190 MB/s on the
 * benchmark machine, where OpenSSL does ~4 GB/s. Every byte from a node to a
 * user is sealed once by the gateway, so that bound the data path.
 *
 * How: {@link installFastGcm} wraps methods of ssh2's `AESGCMCipherNative`
 * and `AESGCMDecipherNative` prototypes (reached through instances made by
 * ssh2's own `createCipher`/`createDecipher`, as the classes are not
 * exported) to use the system libcrypto through FFI (openssl_gcm.ts). Sealing
 * is in place (`allocPacket` leaves room for the tag, as ssh2's own native
 * binding does) with one socket write per packet instead of three or four;
 * opening streams into the packet buffer and hands ssh2 the payload only after
 * the tag checks out. It applies to every ssh2 connection of the process,
 * server and client. Without libcrypto or the `ffi` permission nothing
 * changes. `POSTERN_SSH_GCM=ssh2` keeps ssh2's code, for measurements.
 *
 * ssh2's semantics are kept: the nonce's 64-bit invocation counter (IV bytes
 * 4..11) and the sequence numbers advance per packet; the length limits are
 * the same (`Bad packet length`); a bad tag throws before any payload is used;
 * a `false` from `_onPayload` (after NEWKEYS) stops at that packet. Stricter
 * than ssh2: a padding length beyond the packet is refused.
 *
 * Guarded: installs only on ssh2 1.17.0 without its native binding and when
 * the prototypes have the expected fields. tests/unit/net_gcm_test.ts checks
 * packets byte for byte against `node:crypto` both ways (AES-128/256, IV
 * carry, split reads, forged tags, bad lengths); the gateway integration
 * tests run real OpenSSH through it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";
import ssh2Package from "ssh2/package.json" with { type: "json" };
// ssh2 internals (no type declarations); the version is pinned, see the module doc.
import ssh2Crypto from "ssh2/lib/protocol/crypto.js";
import { ConnDuplex } from "./conn_duplex.ts";
import { type GcmContext, openSslGcm } from "./openssl_gcm.ts";

/** The ssh2 version this override was written and checked against. */
export const SSH2_VERSION = "1.17.0";

/** Which code seals and opens AES-GCM packets: libcrypto, or ssh2's own (node:crypto). */
export type GcmBackend = "openssl" | "ssh2";

/** ssh2's limit on inbound packets (crypto.js MAX_PACKET_SIZE). */
const MAX_PACKET_SIZE = 35000;
const TAG = 16;
const CONTEXT = Symbol("postern.gcmContext");
const OPENING = Symbol("postern.gcmOpening");
const SCRATCH = Symbol("postern.gcmScratch");
/** `_onWrite` functions of connections whose socket copies each write at once. */
const copyingSockets = new WeakSet<object>();

/** Fields of ssh2's AESGCMCipherNative used here. */
interface GcmCipher {
  outSeqno: number;
  _onWrite: (data: Uint8Array) => void;
  _encKey: Uint8Array<ArrayBuffer>;
  _encIV: Uint8Array<ArrayBuffer>;
  _dead: boolean;
  allocPacket(payloadLength: number): Buffer;
  encrypt(packet: Uint8Array<ArrayBuffer>): void;
  free(): void;
  [CONTEXT]?: GcmContext;
  [SCRATCH]?: Scratch;
}

/** Fields of ssh2's AESGCMDecipherNative used here. */
interface GcmDecipher {
  inSeqno: number;
  _onPayload: (payload: Buffer) => unknown;
  _decipherKey: Uint8Array;
  _decipherIV: Uint8Array;
  decrypt(data: Uint8Array, p: number, dataLength: number): number | undefined;
  free(): void;
  [OPENING]?: Opening;
}

/** A cipher's reusable packet buffer (connections whose socket copies on write). */
interface Scratch {
  buffer: Buffer;
  /** Handed out and not yet written: the next packet gets a fresh buffer. */
  inUse: boolean;
}

/** An inbound packet being opened. */
interface Opening {
  context: GcmContext;
  lengthField: Uint8Array;
  lengthBytes: number;
  length: number;
  packet: Buffer | null;
  position: number;
  tag: Uint8Array;
  tagBytes: number;
}

let installed: GcmBackend | undefined;

/**
 * Wraps ssh2's AES-GCM code once (idempotent) to use libcrypto. On another
 * ssh2 version, when its internals do not look as expected, or without a
 * usable libcrypto, nothing is changed and `"ssh2"` is returned.
 *
 * @returns the backend in use
 * @example
 * ```ts
 * installFastGcm(); // "openssl" where libcrypto and the ffi permission are there
 * ```
 */
export function installFastGcm(): GcmBackend {
  if (installed !== undefined) return installed;
  installed = "ssh2";
  if (ssh2Package.version !== SSH2_VERSION || ssh2Crypto.bindingAvailable) return installed;
  if (Deno.env.get("POSTERN_SSH_GCM") === "ssh2") return installed;
  const cipher = gcmPrototype("cipher") as GcmCipher | undefined;
  const decipher = gcmPrototype("decipher") as GcmDecipher | undefined;
  const openssl = cipher && decipher ? openSslGcm() : null;
  if (!cipher || !decipher || !openssl) return installed;
  installOpenSsl(cipher, decipher, (key, encrypt) => openssl.context(key, encrypt));
  return (installed = "openssl");
}

/**
 * Lets `connection` (an ssh2 server `Connection` or `Client`) seal its
 * packets in one reused buffer instead of a new one per packet, when its
 * socket is a {@link ConnDuplex}, whose `write()` copies the bytes at once.
 * Call it before the key exchange ends, e.g. in the server's 'connection'
 * listener. Saves an allocation per packet (GC work on bulk transfers).
 *
 * @param connection an ssh2 Connection or Client
 * @returns true when enabled (libcrypto in use and the socket qualifies)
 * @example
 * ```ts
 * const server = new ssh2.Server({ hostKeys }, (client) => { reusePacketBuffers(client); });
 * ```
 */
export function reusePacketBuffers(connection: unknown): boolean {
  if (installFastGcm() !== "openssl") return false;
  const c = connection as { _sock?: unknown; _protocol?: { _onWrite?: unknown } };
  const onWrite = c._protocol?._onWrite;
  if (!(c._sock instanceof ConnDuplex) || typeof onWrite !== "function") return false;
  copyingSockets.add(onWrite);
  return true;
}

/**
 * The cipher's scratch buffer, sized for `size`; a fresh buffer while the
 * previous packet has not been written yet (queued during a key exchange).
 */
function scratchPacket(cipher: GcmCipher, size: number): Buffer {
  const scratch = cipher[SCRATCH] ??= { buffer: Buffer.allocUnsafe(0), inUse: false };
  if (scratch.inUse) return Buffer.allocUnsafe(size);
  if (scratch.buffer.length < size) scratch.buffer = Buffer.allocUnsafe(Math.max(size, 36 * 1024));
  scratch.inUse = true;
  return scratch.buffer.subarray(0, size);
}

/** The prototype of ssh2's AESGCMCipherNative or AESGCMDecipherNative, if it looks as expected. */
function gcmPrototype(kind: "cipher" | "decipher"): object | undefined {
  const info = ssh2Crypto.CIPHER_INFO?.["aes128-gcm@openssh.com"];
  if (!info) return undefined;
  const common = { cipherInfo: info, decipherInfo: info, seqno: 0, forceNative: true };
  const key = Buffer.alloc(16);
  const iv = Buffer.alloc(12);
  if (kind === "cipher") {
    const probe = ssh2Crypto.createCipher({
      outbound: { ...common, onWrite: () => {}, cipherKey: key, cipherIV: iv },
    });
    const proto = Object.getPrototypeOf(probe);
    const shaped = proto?.constructor?.name === "AESGCMCipherNative" &&
      Buffer.isBuffer(probe._encKey) && Buffer.isBuffer(probe._encIV) &&
      typeof probe._onWrite === "function" && typeof probe.outSeqno === "number" &&
      typeof proto.allocPacket === "function" && typeof proto.encrypt === "function";
    return shaped ? proto : undefined;
  }
  const probe = ssh2Crypto.createDecipher({
    inbound: { ...common, onPayload: () => {}, decipherKey: key, decipherIV: iv },
  });
  const proto = Object.getPrototypeOf(probe);
  const shaped = proto?.constructor?.name === "AESGCMDecipherNative" &&
    Buffer.isBuffer(probe._decipherKey) && Buffer.isBuffer(probe._decipherIV) &&
    typeof probe._onPayload === "function" && typeof probe.inSeqno === "number" &&
    typeof proto.decrypt === "function";
  return shaped ? proto : undefined;
}

function installOpenSsl(
  cipher: GcmCipher,
  decipher: GcmDecipher,
  context: (key: Uint8Array, encrypt: boolean) => GcmContext,
): void {
  const { encrypt, free } = cipher;
  // Room for the tag after the padding, so the packet is sealed in place.
  cipher.allocPacket = function (this: GcmCipher, payloadLength: number): Buffer {
    let packetLength = 4 + 1 + payloadLength;
    let padLength = 16 - ((packetLength - 4) & 15);
    if (padLength < 4) padLength += 16;
    packetLength += padLength;
    const packet = copyingSockets.has(this._onWrite)
      ? scratchPacket(this, packetLength + TAG)
      : Buffer.allocUnsafe(packetLength + TAG);
    packet.writeUInt32BE(packetLength - 4, 0);
    packet[4] = padLength;
    randomFillSync(packet, 5 + payloadLength, padLength);
    return packet;
  };
  cipher.encrypt = function (this: GcmCipher, packet: Uint8Array<ArrayBuffer>): void {
    if (this._dead) return;
    const sealedLength = 4 + new DataView(packet.buffer, packet.byteOffset).getUint32(0) + TAG;
    // A packet allocated without tag room (never, once installed): ssh2's own code.
    if (packet.length !== sealedLength) return encrypt.call(this, packet);
    (this[CONTEXT] ??= context(this._encKey, true)).seal(packet, this._encIV);
    ivIncrement(this._encIV);
    this.outSeqno = (this.outSeqno + 1) >>> 0;
    this._onWrite(packet);
    // The socket copied it: the scratch buffer may hold the next packet.
    const scratch = this[SCRATCH];
    if (scratch && packet.buffer === scratch.buffer.buffer) scratch.inUse = false;
  };
  cipher.free = function (this: GcmCipher): void {
    free.call(this);
    this[CONTEXT]?.free();
  };

  const decipherFree = decipher.free;
  decipher.decrypt = function (
    this: GcmDecipher,
    data: Uint8Array,
    p: number,
    dataLength: number,
  ): number | undefined {
    const opening = this[OPENING] ??= {
      context: context(this._decipherKey, false),
      lengthField: new Uint8Array(4),
      lengthBytes: 0,
      length: 0,
      packet: null,
      position: 0,
      tag: new Uint8Array(TAG),
      tagBytes: 0,
    };
    return openPackets(this, opening, data, p, dataLength);
  };
  decipher.free = function (this: GcmDecipher): void {
    decipherFree.call(this);
    this[OPENING]?.context.free();
  };
}

/**
 * Opens the packets in `data[p, dataLength)`, like ssh2's
 * AESGCMDecipherNative.decrypt: a partial packet waits for the next call; a
 * payload goes to `_onPayload` only after its tag is verified; a `false` or
 * numeric answer from `_onPayload` stops the loop at that offset.
 */
function openPackets(
  decipher: GcmDecipher,
  s: Opening,
  data: Uint8Array,
  p: number,
  dataLength: number,
): number | undefined {
  while (p < dataLength) {
    if (s.lengthBytes < 4) {
      while (s.lengthBytes < 4 && p < dataLength) s.lengthField[s.lengthBytes++] = data[p++];
      if (s.lengthBytes < 4) return;
      s.length = new DataView(s.lengthField.buffer).getUint32(0);
      if (s.length + 20 > MAX_PACKET_SIZE || s.length < 16 || (s.length & 15) !== 0) {
        throw new Error("Bad packet length");
      }
      s.context.begin(decipher._decipherIV, s.lengthField);
      s.packet = Buffer.allocUnsafe(s.length);
      s.position = 0;
    }
    const packet = s.packet!;
    if (s.position < s.length) {
      if (p >= dataLength) return;
      const n = Math.min(s.length - s.position, dataLength - p);
      s.context.update(data.subarray(p, p + n), packet.subarray(s.position, s.position + n));
      s.position += n;
      p += n;
      if (s.position < s.length) return;
    }
    const n = Math.min(TAG - s.tagBytes, dataLength - p);
    s.tag.set(data.subarray(p, p + n), s.tagBytes);
    s.tagBytes += n;
    p += n;
    if (s.tagBytes < TAG) return;
    if (!s.context.finish(s.tag)) throw new Error("Invalid MAC");
    const padLength = packet[0];
    if (padLength + 1 > packet.length) throw new Error("Bad padding length");
    const payload = Buffer.from(
      packet.buffer,
      packet.byteOffset + 1,
      packet.length - padLength - 1,
    );
    decipher.inSeqno = (decipher.inSeqno + 1) >>> 0;
    ivIncrement(decipher._decipherIV);
    s.lengthBytes = 0;
    s.packet = null;
    s.position = 0;
    s.tagBytes = 0;
    const answer = decipher._onPayload(payload);
    if (answer !== undefined) return answer === false ? p : answer as number;
  }
}

/** Increments the invocation counter (IV bytes 4..11, big-endian), as ssh2 does. */
function ivIncrement(iv: Uint8Array): void {
  for (let i = 11; i >= 4; i--) {
    iv[i] = (iv[i] + 1) & 0xff;
    if (iv[i] !== 0) return;
  }
}
