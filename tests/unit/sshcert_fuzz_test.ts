/**
 * Parsers must either succeed or throw CertError for any input: never a
 * RangeError, TypeError or anything else. Inputs are random bytes and valid
 * encodings with bit flips, truncations, inflated length fields, insertions and
 * splices. The seed is random per run (printed on failure); set
 * SSHCERT_FUZZ_SEED to replay one.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  CertError,
  decodeCertificate,
  DEFAULT_USER_EXTENSIONS,
  encodeCertificate,
  encodeOpenSshPrivateKey,
  formatCertificateLine,
  generateEd25519KeyPair,
  keyPairOf,
  parseCertificateLine,
  parseOpenSshPrivateKey,
  parsePublicKey,
  parsePublicKeyLine,
  parseSignature,
  signCertificate,
  signData,
  sourceAddressAllows,
  SshWriter,
  verifyCertificate,
  verifyCertificateKeySignature,
  verifySignature,
} from "../../lib/sshcert/mod.ts";

const SEED = Number(Deno.env.get("SSHCERT_FUZZ_SEED") ?? (Math.random() * 2 ** 32) >>> 0);

/** mulberry32: small, fast, good enough to spread mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)];
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

/** Runs `fn` on `input`; anything thrown must be a CertError. */
function expectOnlyCertError(what: string, input: Uint8Array | string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof CertError) return;
    const shown = typeof input === "string" ? JSON.stringify(input) : input.toHex();
    assert.fail(
      `${what} threw ${error} (seed ${SEED}) on input ${shown}\n${(error as Error).stack}`,
    );
  }
}

function mutate(source: Uint8Array): Uint8Array {
  const bytes = source.slice();
  switch (int(6)) {
    case 0: { // bit flips
      for (let i = 0, n = 1 + int(4); i < n && bytes.length > 0; i++) {
        bytes[int(bytes.length)] ^= 1 << int(8);
      }
      return bytes;
    }
    case 1: // truncation
      return bytes.subarray(0, int(bytes.length));
    case 2:
    case 3: { // inflate or shrink a length field, preferring plausible ones
      if (bytes.length < 4) return bytes;
      const view = new DataView(bytes.buffer);
      const lengths: number[] = [];
      for (let i = 0; i + 4 <= bytes.length; i++) {
        if (view.getUint32(i) <= bytes.length - i - 4) lengths.push(i);
      }
      const at = lengths.length > 0 && random() < 0.8 ? pick(lengths) : int(bytes.length - 3);
      const old = view.getUint32(at);
      view.setUint32(
        at,
        pick([0xffffffff, 0x80000000, 0x7fffffff, bytes.length, old + 1, old + 1 + int(64)]) >>> 0,
      );
      if (random() < 0.3) view.setUint32(at, Math.max(0, old - 1 - int(8)));
      return bytes;
    }
    case 4: { // insert or delete a few bytes
      const at = int(bytes.length + 1);
      return random() < 0.5
        ? new Uint8Array([
          ...bytes.subarray(0, at),
          ...randomBytes(1 + int(8)),
          ...bytes.subarray(at),
        ])
        : new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + 1 + int(8))]);
    }
    default: { // overwrite a run with random bytes
      const at = int(bytes.length);
      bytes.set(randomBytes(Math.min(1 + int(16), bytes.length - at)), at);
      return bytes;
    }
  }
}

// A corpus covering every key type, options, extensions and both certificate types.
const PAIRS = [
  generateEd25519KeyPair(),
  keyPairOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey),
  keyPairOf(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey),
  keyPairOf(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey),
];
const TRUSTED = PAIRS.map((p) => p.publicKeyBlob);
const NOW = new Date();
const CERTS = PAIRS.flatMap((subject, i) =>
  PAIRS.map((ca, j) =>
    signCertificate({
      caPrivateKey: ca.privateKey,
      publicKey: subject.publicKey,
      type: (i + j) % 2 === 0 ? "user" : "host",
      keyId: `cert ${i}.${j}`,
      principals: ["root", "alice"].slice(0, (i + j) % 3),
      validAfter: new Date(NOW.getTime() - 60e3),
      validBefore: new Date(NOW.getTime() + 60e3),
      criticalOptions: j % 2 === 0
        ? { "force-command": "true", "source-address": "127.0.0.0/8,::1" }
        : {},
      extensions: i % 2 === 0 ? DEFAULT_USER_EXTENSIONS : { "x@example.com": "y" },
      serial: BigInt(i * 4 + j),
    }).blob
  )
);
const DATA = new TextEncoder().encode("userauth");
const USER_SIGNATURE = signData(PAIRS[0].privateKey, DATA);

function exerciseCertificate(blob: Uint8Array): void {
  const cert = decodeCertificate(blob);
  verifyCertificate(cert, {
    trustedCAs: TRUSTED,
    type: "user",
    principal: "root",
    now: NOW,
    clientAddress: "127.0.0.1",
  });
  encodeCertificate(cert);
  formatCertificateLine(cert);
  verifyCertificateKeySignature(cert, DATA, USER_SIGNATURE);
}

Deno.test("decodeCertificate() and verifyCertificate() throw only CertError on mutated certificates", () => {
  for (let i = 0; i < 16_000; i++) {
    let blob = pick(CERTS);
    for (let n = 1 + (random() < 0.2 ? int(4) : 0); n > 0; n--) blob = mutate(blob);
    if (random() < 0.05) { // splice two certificates
      const other = pick(CERTS);
      const at = int(Math.min(blob.length, other.length));
      blob = new Uint8Array([...blob.subarray(0, at), ...other.subarray(at)]);
    }
    expectOnlyCertError("certificate", blob, () => exerciseCertificate(blob));
  }
});

Deno.test("parsers throw only CertError on random bytes", () => {
  const prefixes = [
    "",
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-ed25519",
    "ecdsa-sha2-nistp384",
    "ssh-rsa",
  ];
  for (let i = 0; i < 4_000; i++) {
    const prefix = pick(prefixes);
    const w = new SshWriter();
    if (prefix !== "") w.string(prefix);
    const blob = w.raw(randomBytes(int(300))).bytes();
    expectOnlyCertError("certificate", blob, () => exerciseCertificate(blob));
    expectOnlyCertError("public key", blob, () => parsePublicKey(blob));
    expectOnlyCertError("signature", blob, () => parseSignature(blob));
    const key = PAIRS[int(PAIRS.length)].publicKey;
    expectOnlyCertError("verifySignature", blob, () => void verifySignature(key, DATA, blob));
  }
});

Deno.test("parsePublicKey() throws only CertError on mutated keys", () => {
  for (let i = 0; i < 3_000; i++) {
    const blob = mutate(pick(TRUSTED));
    expectOnlyCertError("public key", blob, () => {
      const key = parsePublicKey(blob);
      verifySignature(key, DATA, USER_SIGNATURE);
    });
  }
});

Deno.test("parseOpenSshPrivateKey() throws only CertError on mutated key files", () => {
  const file = encodeOpenSshPrivateKey(PAIRS[0].privateKey, "fuzz");
  const bytes = Uint8Array.fromBase64(file.split("\n").slice(1, -2).join(""));
  for (let i = 0; i < 2_000; i++) {
    const mutated = mutate(bytes);
    const text = random() < 0.9
      ? `-----BEGIN OPENSSH PRIVATE KEY-----\n${mutated.toBase64()}\n-----END OPENSSH PRIVATE KEY-----\n`
      : file.slice(0, int(file.length));
    expectOnlyCertError("private key", text, () => parseOpenSshPrivateKey(text));
  }
});

Deno.test("line and source-address parsers throw only CertError on random text", () => {
  const line = formatCertificateLine(decodeCertificate(CERTS[0]), "comment");
  const lineChars = "AQZaz09+/= \t\n-@.ssh";
  const cidrChars = "0123456789abcdefABCDEF.:/,*!% ";
  const text = (chars: string, n: number) =>
    Array.from({ length: n }, () => chars[int(chars.length)]).join("");
  for (let i = 0; i < 3_000; i++) {
    const fuzzed = random() < 0.5 ? text(lineChars, int(80)) : mutateText(line);
    expectOnlyCertError("certificate line", fuzzed, () => parseCertificateLine(fuzzed));
    expectOnlyCertError("public key line", fuzzed, () => parsePublicKeyLine(fuzzed));
    const list = text(cidrChars, int(40));
    expectOnlyCertError(
      "source-address",
      list,
      () => sourceAddressAllows(list, text(cidrChars, 12)),
    );
  }
});

function mutateText(line: string): string {
  const at = int(line.length);
  return line.slice(0, at) + String.fromCharCode(int(128)) + line.slice(at + int(3));
}
