import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createCipheriv } from "node:crypto";
// ssh2 internals, as lib/net/ssh2_gcm.ts uses them (ssh2 pinned in deno.json).
import ssh2Crypto from "ssh2/lib/protocol/crypto.js";
import { denoConnDuplex } from "../../lib/net/conn_duplex.ts";
import { loadLibcrypto } from "../../lib/net/libcrypto.ts";
import { installFastCiphers, reusePacketBuffers } from "../../lib/net/ssh2_crypto.ts";

const ALGORITHMS = [["aes128-gcm@openssh.com", 16], ["aes256-gcm@openssh.com", 32]] as const;
/** The invocation counter (bytes 4..11) is about to carry across three bytes. */
const IV: Buffer = Buffer.from([1, 2, 3, 4, 0, 0, 0, 0, 0, 0xff, 0xff, 0xfe]);
const SIZES = [0, 1, 15, 16, 1000, 32768, 32768, 5, 34000, 3];

function nextIv(iv: Buffer): Buffer {
  const next = Buffer.from(iv);
  for (let i = 11; i >= 4; i--) {
    next[i] = (next[i] + 1) & 0xff;
    if (next[i] !== 0) break;
  }
  return next;
}

/** A cleartext SSH packet (length, padding length, payload, random padding). */
function plainPacket(payload: Uint8Array): Buffer {
  let length = 4 + 1 + payload.length;
  let pad = 16 - ((length - 4) & 15);
  if (pad < 4) pad += 16;
  length += pad;
  const packet = Buffer.alloc(length);
  packet.writeUInt32BE(length - 4, 0);
  packet[4] = pad;
  packet.set(payload, 5);
  crypto.getRandomValues(packet.subarray(5 + payload.length));
  return packet;
}

/** RFC 5647 sealing with node:crypto: length as AAD, then ciphertext and tag. */
function referenceSeal(key: Buffer, iv: Buffer, packet: Buffer): Buffer {
  const cipher = createCipheriv(key.length === 16 ? "aes-128-gcm" : "aes-256-gcm", key, iv);
  cipher.setAAD(packet.subarray(0, 4));
  const body = Buffer.concat([cipher.update(packet.subarray(4)), cipher.final()]);
  return Buffer.concat([packet.subarray(0, 4), body, cipher.getAuthTag()]);
}

function payloads(): Uint8Array[] {
  return SIZES.map((size) => {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
    return out;
  });
}

function newCipher(name: string, key: Buffer, onWrite: (data: Uint8Array) => void) {
  return ssh2Crypto.createCipher({
    outbound: {
      onWrite,
      cipherInfo: ssh2Crypto.CIPHER_INFO[name],
      cipherKey: Buffer.from(key),
      cipherIV: Buffer.from(IV),
      seqno: 7,
      forceNative: true,
    },
  });
}

function newDecipher(name: string, key: Buffer, onPayload: (payload: Buffer) => unknown) {
  return ssh2Crypto.createDecipher({
    inbound: {
      onPayload,
      decipherInfo: ssh2Crypto.CIPHER_INFO[name],
      decipherKey: Buffer.from(key),
      decipherIV: Buffer.from(IV),
      seqno: 7,
      forceNative: true,
    },
  });
}

const keepSsh2 = Deno.env.get("POSTERN_SSH_CRYPTO") === "ssh2";

/** Whether the system has a libcrypto that lib/net/libcrypto.ts would try. */
function libcryptoPresent(): boolean {
  for (const name of ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.3.dylib"]) {
    try {
      Deno.dlopen(name, { OpenSSL_version_num: { parameters: [], result: "u64" } }).close();
      return true;
    } catch {
      // Not this one.
    }
  }
  return false;
}
const libcrypto = keepSsh2 ? null : loadLibcrypto();

Deno.test("installFastCiphers() uses libcrypto where it loads", () => {
  assert.deepEqual(installFastCiphers(), {
    gcm: Boolean(libcrypto),
    chacha20Poly1305: Boolean(libcrypto?.chachaPoly),
  });
  assert.equal(installFastCiphers(), installFastCiphers());
  // A libcrypto that loads passes the known-answer tests: a failure there
  // would silently fall back to ssh2's code, so it fails here instead.
  if (!keepSsh2 && libcryptoPresent()) {
    assert.ok(libcrypto, "libcrypto passes its known-answer tests");
  }
  if (libcrypto && libcrypto.version >= 0x30000000) {
    assert.ok(libcrypto.chachaPoly, "chacha20-poly1305 passes its known-answer tests");
  }
});

for (const [name, keyLength] of ALGORITHMS) {
  const key = () => Buffer.from(crypto.getRandomValues(new Uint8Array(keyLength)));

  Deno.test(`ssh2 seals ${name} packets as RFC 5647 says, one write each`, () => {
    installFastCiphers();
    const k = key();
    const written: Uint8Array[] = [];
    const cipher = newCipher(name, k, (data) => written.push(Buffer.from(data)));
    const expected: Buffer[] = [];
    let iv: Buffer = IV;
    for (const payload of payloads()) {
      const packet = cipher.allocPacket(payload.length);
      packet.set(payload, 5);
      const plain = Buffer.from(packet.subarray(0, 4 + packet.readUInt32BE(0)));
      expected.push(referenceSeal(k, iv, plain));
      iv = nextIv(iv);
      cipher.encrypt(packet);
    }
    assert.equal(cipher.outSeqno, 7 + SIZES.length);
    assert.deepEqual(Buffer.from(cipher._encIV), iv);
    assert.deepEqual(Buffer.concat(written), Buffer.concat(expected));
    if (installFastCiphers().gcm) assert.equal(written.length, SIZES.length);
    cipher.free();
  });

  Deno.test(`ssh2 opens ${name} packets however the bytes are split`, () => {
    installFastCiphers();
    const k = key();
    const sent = payloads();
    let iv: Buffer = IV;
    const stream = Buffer.concat(sent.map((payload) => {
      const sealed = referenceSeal(k, iv, plainPacket(payload));
      iv = nextIv(iv);
      return sealed;
    }));
    for (const split of [1, 7, 16, 4096, stream.length]) {
      const received: Buffer[] = [];
      const decipher = newDecipher(name, k, (payload) => void received.push(Buffer.from(payload)));
      for (let p = 0; p < stream.length; p += split) {
        // ssh2 passes a chunk with a start offset and an end.
        const chunk = Buffer.concat([Buffer.alloc(3), stream.subarray(p, p + split)]);
        decipher.decrypt(chunk, 3, chunk.length);
      }
      assert.deepEqual(received, sent.map((payload) => Buffer.from(payload)), `split ${split}`);
      assert.equal(decipher.inSeqno, 7 + SIZES.length);
      decipher.free();
    }
  });

  Deno.test(`ssh2 refuses a forged or malformed ${name} packet before using it`, () => {
    installFastCiphers();
    const k = key();
    const sealed = referenceSeal(k, IV, plainPacket(new TextEncoder().encode("rm -rf /")));
    const received: Buffer[] = [];
    const forged = Buffer.from(sealed);
    forged[10] ^= 1;
    assert.throws(
      () => newDecipher(name, k, (p) => void received.push(p)).decrypt(forged, 0, forged.length),
    );
    const badLength = Buffer.from(sealed);
    badLength.writeUInt32BE(40000, 0);
    assert.throws(
      () =>
        newDecipher(name, k, (p) => void received.push(p)).decrypt(badLength, 0, badLength.length),
      /Bad packet length/,
    );
    assert.deepEqual(received, []);
  });
}

Deno.test("ssh2 stops opening AES-GCM packets where _onPayload returns false (NEWKEYS)", () => {
  installFastCiphers();
  const k = Buffer.alloc(16, 9);
  const first = referenceSeal(k, IV, plainPacket(new Uint8Array([21])));
  const second = referenceSeal(k, nextIv(IV), plainPacket(new Uint8Array([94, 1])));
  const stream = Buffer.concat([first, second]);
  const received: number[] = [];
  const decipher = newDecipher("aes128-gcm@openssh.com", k, (payload) => {
    received.push(payload[0]);
    return false;
  });
  assert.equal(decipher.decrypt(stream, 0, stream.length), first.length);
  assert.deepEqual(received, [21]);
});

Deno.test("reusePacketBuffers() reuses one buffer, never one still waiting to be sent", async () => {
  if (!installFastCiphers().gcm) return;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  const socket = denoConnDuplex(a);
  const onWrite = (data: Uint8Array) => void socket.write(data);
  assert.equal(reusePacketBuffers({ _sock: socket, _protocol: { _onWrite: onWrite } }), true);
  assert.equal(reusePacketBuffers({ _sock: {}, _protocol: { _onWrite: () => {} } }), false);
  const k = Buffer.alloc(16, 3);
  const cipher = newCipher("aes128-gcm@openssh.com", k, onWrite);

  const first = cipher.allocPacket(100);
  const queued = cipher.allocPacket(100);
  assert.notEqual(queued.buffer, first.buffer, "a packet not yet written is not handed out again");
  const expected: Buffer[] = [];
  let iv: Buffer = IV;
  for (const packet of [first, queued]) {
    packet.fill(7, 5, 105);
    expected.push(referenceSeal(k, iv, Buffer.from(packet.subarray(0, packet.length - 16))));
    iv = nextIv(iv);
    cipher.encrypt(packet);
  }
  const again = cipher.allocPacket(100);
  // The packet allocated while `first` waited took the scratch over.
  assert.equal(again.buffer, queued.buffer, "once written, the scratch buffer is reused");
  again.fill(9, 5, 105);
  expected.push(referenceSeal(k, iv, Buffer.from(again.subarray(0, again.length - 16))));
  cipher.encrypt(again);

  socket.end();
  const received: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  for (let n = await b.read(buffer); n !== null; n = await b.read(buffer)) {
    received.push(buffer.slice(0, n));
  }
  b.close();
  assert.deepEqual(Buffer.concat(received), Buffer.concat(expected));
});

// chacha20-poly1305@openssh.com: no node:crypto Poly1305 to compare with, so
// the body and length are checked against node:crypto's ChaCha20 and the tag
// by opening (libcrypto.ts checks Poly1305 against RFC 8439 at load; the
// OpenSSH integration test checks the whole construction).

const CHACHA = "chacha20-poly1305@openssh.com";

function chachaStream(key: Uint8Array, seqno: number, counter: number, length: number) {
  const iv = Buffer.alloc(16);
  iv[0] = counter;
  iv.writeUInt32BE(seqno, 12);
  return createCipheriv("chacha20", key, iv).update(Buffer.alloc(length));
}

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.from(a.map((byte, i) => byte ^ b[i]));
}

Deno.test("ssh2 seals chacha20-poly1305 packets that it opens again however they are split", () => {
  installFastCiphers();
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(64)));
  const written: Uint8Array[] = [];
  const cipher = newCipher(CHACHA, key, (data) => written.push(Buffer.from(data)));
  const sent = payloads();
  const plains: Buffer[] = [];
  for (const payload of sent) {
    const packet = cipher.allocPacket(payload.length);
    packet.set(payload, 5);
    plains.push(
      Buffer.from(
        packet.subarray(0, packet.length - (installFastCiphers().chacha20Poly1305 ? 16 : 0)),
      ),
    );
    cipher.encrypt(packet);
  }
  const stream = Buffer.concat(written);
  // Each packet: length under K_1 (counter 0), body under K_2 from counter 1.
  let offset = 0;
  plains.forEach((plain, i) => {
    const seqno = 7 + i;
    const length = stream.subarray(offset, offset + 4);
    assert.deepEqual(
      xor(length, chachaStream(key.subarray(32), seqno, 0, 4)),
      plain.subarray(0, 4),
    );
    const body = stream.subarray(offset + 4, offset + plain.length);
    assert.deepEqual(
      xor(body, chachaStream(key.subarray(0, 32), seqno, 1, body.length)),
      plain.subarray(4),
    );
    offset += plain.length + 16;
  });
  assert.equal(offset, stream.length);
  for (const split of [1, 7, 16, 4096, stream.length]) {
    const received: Buffer[] = [];
    const decipher = newDecipher(
      CHACHA,
      key,
      (payload) => void received.push(Buffer.from(payload)),
    );
    for (let p = 0; p < stream.length; p += split) {
      const chunk = Buffer.concat([Buffer.alloc(3), stream.subarray(p, p + split)]);
      decipher.decrypt(chunk, 3, chunk.length);
    }
    assert.deepEqual(received, sent.map((payload) => Buffer.from(payload)), `split ${split}`);
    assert.equal(decipher.inSeqno, 7 + SIZES.length);
  }
});

Deno.test("ssh2 refuses a forged or malformed chacha20-poly1305 packet before using it", () => {
  installFastCiphers();
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(64)));
  const written: Uint8Array[] = [];
  const cipher = newCipher(CHACHA, key, (data) => written.push(Buffer.from(data)));
  const packet = cipher.allocPacket(8);
  packet.set(new TextEncoder().encode("rm -rf /"), 5);
  cipher.encrypt(packet);
  const sealed = Buffer.concat(written);
  const received: Uint8Array[] = [];
  // Byte 0: the length decrypts to 16 MB more than allowed. Then body and tag.
  for (const at of [0, 10, sealed.length - 1]) {
    const forged = Buffer.from(sealed);
    forged[at] ^= 1;
    assert.throws(
      () =>
        newDecipher(CHACHA, key, (p) => void received.push(p)).decrypt(forged, 0, forged.length),
      at === 0 ? /Bad packet length/ : /Invalid MAC/,
    );
  }
  assert.equal(received.length, 0);
  newDecipher(CHACHA, key, (p) => void received.push(p)).decrypt(sealed, 0, sealed.length);
  assert.equal(new TextDecoder().decode(received[0]), "rm -rf /");
});
