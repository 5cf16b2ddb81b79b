import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  CertError,
  type CertErrorReason,
  encodeOpenSshPrivateKey,
  fingerprint,
  formatPublicKeyLine,
  generateEd25519KeyPair,
  parseOpenSshPrivateKey,
  parsePublicKeyLine,
  signData,
  verifySignature,
} from "../../lib/sshcert/mod.ts";

const decoder = new TextDecoder();

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("ssh-keygen", { args, stdout: "piped", stderr: "piped" })
    .output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sshcert_private_key_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertCertError(fn: () => unknown, reason: CertErrorReason, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CertError, `expected CertError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("encodeOpenSshPrivateKey() output parses back to the same key", () => {
  const pair = generateEd25519KeyPair();
  const text = encodeOpenSshPrivateKey(pair.privateKey, "alice@postern");
  assert.match(
    text,
    /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,70}\n)+-----END OPENSSH PRIVATE KEY-----\n$/,
  );
  const parsed = parseOpenSshPrivateKey(text);
  assert.equal(parsed.comment, "alice@postern");
  assert.deepEqual(parsed.publicKey, pair.publicKey);
  assert.deepEqual(parsed.publicKeyBlob, pair.publicKeyBlob);
  const data = new TextEncoder().encode("x");
  assert.ok(verifySignature(pair.publicKey, data, signData(parsed.privateKey, data)));
});

Deno.test("ssh-keygen reads keys written by encodeOpenSshPrivateKey()", async () => {
  await withTempDir(async (dir) => {
    const pair = generateEd25519KeyPair();
    const path = `${dir}/id_ed25519`;
    await Deno.writeTextFile(path, encodeOpenSshPrivateKey(pair.privateKey, "bob"), {
      mode: 0o600,
    });
    const derived = await run(["-y", "-f", path]);
    assert.equal(derived.code, 0, derived.stderr);
    assert.equal(derived.stdout.trim(), formatPublicKeyLine(pair.publicKey, "bob"));
    const listed = await run(["-l", "-f", path]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, `256 ${fingerprint(pair.publicKey)} bob (ED25519)\n`);
  });
});

Deno.test("parseOpenSshPrivateKey() reads keys made by ssh-keygen -t ed25519 -N ''", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/id_ed25519`;
    for (const comment of ["", "carol@host", "a comment with spaces"]) {
      await Deno.remove(path).catch(() => {});
      await Deno.remove(`${path}.pub`).catch(() => {});
      const made = await run(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
      assert.equal(made.code, 0, made.stderr);
      const parsed = parseOpenSshPrivateKey(await Deno.readTextFile(path));
      const pub = parsePublicKeyLine(await Deno.readTextFile(`${path}.pub`));
      assert.deepEqual(parsed.publicKey, pub.key);
      assert.equal(parsed.comment, comment);
      const data = new TextEncoder().encode("y");
      assert.ok(verifySignature(pub.key, data, signData(parsed.privateKey, data)));
    }
  });
});

Deno.test("parseOpenSshPrivateKey() refuses what it cannot use, saying why", async () => {
  await withTempDir(async (dir) => {
    const make = async (name: string, args: string[]) => {
      const made = await run(["-q", ...args, "-f", `${dir}/${name}`]);
      assert.equal(made.code, 0, made.stderr);
      return await Deno.readTextFile(`${dir}/${name}`);
    };
    const encrypted = await make("enc", ["-t", "ed25519", "-N", "secret passphrase"]);
    assertCertError(
      () => parseOpenSshPrivateKey(encrypted),
      "unsupported",
      /encrypted.*ssh-keygen -p/,
    );
    assert.throws(
      () => parseOpenSshPrivateKey(encrypted),
      (e: Error) => !e.message.includes("secret"),
    );
    const ecdsa = await make("ecdsa", ["-t", "ecdsa", "-N", ""]);
    assertCertError(() => parseOpenSshPrivateKey(ecdsa), "unsupported", /only ed25519/);
  });
  const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" });
  assertCertError(
    () => parseOpenSshPrivateKey(String(pem)),
    "malformed",
    /not an OpenSSH private key/,
  );
  assertCertError(() => parseOpenSshPrivateKey(""), "malformed", /not an OpenSSH private key/);

  const good = encodeOpenSshPrivateKey(generateEd25519KeyPair().privateKey);
  const body = good.split("\n").slice(1, -2).join("");
  const bytes = Uint8Array.fromBase64(body);
  const rewrap = (b: Uint8Array) =>
    `-----BEGIN OPENSSH PRIVATE KEY-----\n${b.toBase64()}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const badCheck = bytes.slice();
  badCheck[privateSectionStart(bytes)] ^= 1;
  assertCertError(
    () => parseOpenSshPrivateKey(rewrap(badCheck)),
    "malformed",
    /check bytes differ/,
  );
  const badMagic = bytes.slice();
  badMagic[0] ^= 1;
  assertCertError(() => parseOpenSshPrivateKey(rewrap(badMagic)), "malformed", /openssh-key-v1/);
  assertCertError(
    () => parseOpenSshPrivateKey(rewrap(bytes.subarray(0, 60))),
    "malformed",
    /truncated/,
  );
});

/** Where the private section's bytes start (after its length) in an unencrypted key file. */
function privateSectionStart(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  let pos = 15; // "openssh-key-v1\0"
  for (let i = 0; i < 3; i++) pos += 4 + view.getUint32(pos); // cipher, kdf, kdf options
  pos += 4; // number of keys
  pos += 4 + view.getUint32(pos); // public key
  return pos + 4;
}
