import assert from "node:assert/strict";
import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import {
  CertError,
  type CertErrorReason,
  encodePublicKey,
  encodeSignature,
  fingerprint,
  formatPublicKeyLine,
  parseOpenSshPrivateKey,
  parsePublicKey,
  parsePublicKeyLine,
  parseSignature,
  type PublicKey,
  publicKeyFromKeyObject,
  publicKeyToKeyObject,
  signData,
  SshReader,
  SshWriter,
  verifySignature,
} from "../../lib/sshcert/mod.ts";

const KEY_TYPES = [
  { name: "ed25519", args: ["-t", "ed25519"], type: "ssh-ed25519", algorithms: ["ssh-ed25519"] },
  { name: "ecdsa p256", args: ["-t", "ecdsa", "-b", "256"], type: "ecdsa-sha2-nistp256" },
  { name: "ecdsa p384", args: ["-t", "ecdsa", "-b", "384"], type: "ecdsa-sha2-nistp384" },
  { name: "ecdsa p521", args: ["-t", "ecdsa", "-b", "521"], type: "ecdsa-sha2-nistp521" },
  { name: "rsa 2048", args: ["-t", "rsa", "-b", "2048"], type: "ssh-rsa" },
] as const;

interface Fixture {
  name: string;
  type: string;
  pubLine: string;
  privateKey: KeyObject;
  fingerprint: string;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")} failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Keys made by ssh-keygen, with their fingerprints as ssh-keygen prints them. */
async function makeFixtures(dir: string): Promise<Fixture[]> {
  return await Promise.all(KEY_TYPES.map(async ({ name, args, type }) => {
    const path = `${dir}/${name.replace(" ", "_")}`;
    await run("ssh-keygen", [
      "-q",
      ...args,
      "-m",
      "PKCS8",
      "-N",
      "",
      "-C",
      `${name} key`,
      "-f",
      path,
    ]);
    const [fp] = (await run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${path}.pub`])).split(" ")
      .slice(1);
    return {
      name,
      type,
      pubLine: (await Deno.readTextFile(`${path}.pub`)).trim(),
      privateKey: loadPrivateKey(await Deno.readTextFile(path)),
      fingerprint: fp,
    };
  }));
}

/** ssh-keygen writes ed25519 keys only in OpenSSH format, the others as PKCS#8. */
function loadPrivateKey(text: string): KeyObject {
  return text.includes("OPENSSH")
    ? parseOpenSshPrivateKey(text).privateKey
    : createPrivateKey(text);
}

let fixtures: Promise<Fixture[]> | undefined;
function keys(): Promise<Fixture[]> {
  fixtures ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "sshcert_keys_" });
    try {
      return await makeFixtures(dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return fixtures;
}

function assertCertError(fn: () => unknown, reason: CertErrorReason, label: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CertError, `${label}: expected CertError, got ${error}`);
    assert.equal(error.reason, reason, `${label}: ${error.message}`);
    return true;
  });
}

Deno.test("parsePublicKeyLine() reads ssh-keygen keys; fingerprint() matches ssh-keygen -l", async () => {
  for (const key of await keys()) {
    const { key: parsed, comment } = parsePublicKeyLine(key.pubLine);
    assert.equal(parsed.type, key.type, key.name);
    assert.equal(comment, `${key.name} key`);
    assert.equal(fingerprint(parsed), key.fingerprint, key.name);
    assert.equal(fingerprint(encodePublicKey(parsed)), key.fingerprint, key.name);
    assert.equal(formatPublicKeyLine(parsed, comment), key.pubLine, key.name);
    assert.deepEqual(publicKeyFromKeyObject(key.privateKey), parsed, key.name);
    assert.deepEqual(parsePublicKey(encodePublicKey(parsed)), parsed, key.name);
  }
});

Deno.test("signData() signatures verify with verifySignature() for every key type", async () => {
  const data = new TextEncoder().encode("session id and userauth request");
  const all = await keys();
  for (const key of all) {
    const pub = parsePublicKeyLine(key.pubLine).key;
    const signature = signData(key.privateKey, data);
    const algorithm = parseSignature(signature).algorithm;
    assert.equal(algorithm, key.type === "ssh-rsa" ? "rsa-sha2-512" : key.type, key.name);
    assert.ok(verifySignature(pub, data, signature), key.name);
    assert.ok(verifySignature(pub, data, signature, { algorithm }), key.name);
    assert.ok(!verifySignature(pub, data.subarray(1), signature), `${key.name}: other data`);
    const flipped = signature.slice();
    flipped[flipped.length - 5] ^= 1;
    assert.ok(!verifySignature(pub, data, flipped), `${key.name}: flipped bit`);
    assert.ok(!verifySignature(pub, data, signature.subarray(0, 20)), `${key.name}: truncated`);
    assert.ok(!verifySignature(pub, data, signature, { algorithm: "ssh-dss" }), key.name);
    for (const other of all.filter((k) => k !== key)) {
      const otherPub = parsePublicKeyLine(other.pubLine).key;
      assert.ok(!verifySignature(otherPub, data, signature), `${key.name} by ${other.name}`);
    }
  }
});

Deno.test("verifySignature() accepts RSA SHA-2 and refuses SHA-1 unless asked", async () => {
  const rsa = (await keys()).find((k) => k.type === "ssh-rsa")!;
  const pub = parsePublicKeyLine(rsa.pubLine).key;
  const data = new TextEncoder().encode("hello");
  const sha256 = signData(rsa.privateKey, data, { rsaAlgorithm: "rsa-sha2-256" });
  assert.equal(parseSignature(sha256).algorithm, "rsa-sha2-256");
  assert.ok(verifySignature(pub, data, sha256));
  assert.ok(verifySignature(pub, data, sha256, { algorithm: "rsa-sha2-256-cert-v01@openssh.com" }));
  assert.ok(!verifySignature(pub, data, sha256, { algorithm: "rsa-sha2-512" }));
  // The hash named by the algorithm is the one used: relabelling must fail.
  assert.ok(
    !verifySignature(pub, data, encodeSignature("rsa-sha2-512", parseSignature(sha256).bytes)),
  );

  const sha1 = encodeSignature("ssh-rsa", sign("sha1", data, rsa.privateKey));
  assert.ok(!verifySignature(pub, data, sha1));
  assert.ok(verifySignature(pub, data, sha1, { allowSha1: true }));
});

Deno.test("verifySignature() handles ECDSA r or s shorter than the curve size", async () => {
  const p256 = (await keys()).find((k) => k.type === "ecdsa-sha2-nistp256")!;
  const pub = parsePublicKeyLine(p256.pubLine).key;
  // About 1 signature in 128 has r or s with a leading zero byte, i.e. a short mpint.
  for (let i = 0; i < 5000; i++) {
    const data = new TextEncoder().encode(`message ${i}`);
    const signature = signData(p256.privateKey, data);
    const inner = new SshReader(parseSignature(signature).bytes, "test");
    const [r, s] = [inner.mpint(), inner.mpint()];
    if (r.length === 32 && s.length === 32) continue;
    assert.ok(verifySignature(pub, data, signature));
    return;
  }
  assert.fail("no short ECDSA signature component in 5000 tries");
});

Deno.test("parsePublicKey() refuses bad blobs with a reason", async () => {
  const ed = parsePublicKeyLine((await keys())[0].pubLine).key as PublicKey & { key: Uint8Array };
  const blob = (build: (w: SshWriter) => void) => {
    const w = new SshWriter();
    build(w);
    return w.bytes();
  };
  const p256 = (curve: string, point: Uint8Array) =>
    blob((w) => w.string("ecdsa-sha2-nistp256").string(curve).string(point));
  const point = new Uint8Array(65).fill(1);
  point[0] = 4;
  const cases: { name: string; blob: Uint8Array; reason: CertErrorReason; message: RegExp }[] = [
    { name: "empty", blob: new Uint8Array(0), reason: "malformed", message: /truncated/ },
    {
      name: "dss",
      blob: blob((w) => w.string("ssh-dss")),
      reason: "unsupported",
      message: /"ssh-dss"/,
    },
    {
      name: "certificate",
      blob: blob((w) => w.string("ssh-ed25519-cert-v01@openssh.com")),
      reason: "unsupported",
      message: /cert-v01/,
    },
    {
      name: "short ed25519",
      blob: blob((w) => w.string("ssh-ed25519").string(ed.key.subarray(1))),
      reason: "malformed",
      message: /31 bytes/,
    },
    {
      name: "trailing byte",
      blob: blob((w) => w.string("ssh-ed25519").string(ed.key).u8(0)),
      reason: "malformed",
      message: /trailing/,
    },
    {
      name: "curve mismatch",
      blob: p256("nistp384", point),
      reason: "malformed",
      message: /does not match/,
    },
    {
      name: "compressed point",
      blob: p256("nistp256", point.subarray(0, 33)),
      reason: "malformed",
      message: /uncompressed/,
    },
    {
      name: "rsa 512",
      blob: blob((w) =>
        w.string("ssh-rsa").mpint(Uint8Array.of(1, 0, 1)).mpint(new Uint8Array(64).fill(0xff))
      ),
      reason: "unsupported",
      message: /512 bits/,
    },
  ];
  for (const { name, blob, reason, message } of cases) {
    assertCertError(() => parsePublicKey(blob), reason, name);
    assert.throws(() => parsePublicKey(blob), message, name);
  }
  // A point of the right shape that is not on the curve fails when used.
  assertCertError(
    () => publicKeyToKeyObject(parsePublicKey(p256("nistp256", point))),
    "malformed",
    "off-curve",
  );
});

Deno.test("parsePublicKeyLine() refuses malformed lines", async () => {
  const line = (await keys())[0].pubLine;
  const [type, base64] = line.split(" ");
  const cases: { name: string; line: string; message: RegExp }[] = [
    { name: "one field", line: type, message: /expected "<type> <base64> \[comment\]"/ },
    { name: "type mismatch", line: `ssh-rsa ${base64}`, message: /says "ssh-rsa" but holds/ },
    { name: "bad base64", line: `${type} ${base64.slice(1)}`, message: /invalid base64/ },
  ];
  for (const c of cases) {
    assertCertError(() => parsePublicKeyLine(c.line), "malformed", c.name);
    assert.throws(() => parsePublicKeyLine(c.line), c.message, c.name);
  }
  assert.equal(parsePublicKeyLine(`  ${type}\t${base64}  a  b \n`).comment, "a  b");
  assert.equal(parsePublicKeyLine(`${type} ${base64}`).comment, "");
});
