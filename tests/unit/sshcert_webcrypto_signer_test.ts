import assert from "node:assert/strict";
import {
  CertError,
  encodeOpenSshPrivateKey,
  generateEd25519KeyPair,
  signData,
  verifySignature,
} from "../../lib/sshcert/mod.ts";
import { webCryptoSigner } from "../../lib/sshcert/webcrypto_signer.ts";
import { readEd25519KeyFile, writeEd25519KeyFile } from "../../lib/sshcert/private_key_file.ts";

Deno.test("webCryptoSigner() signs exactly as signData() does, and the signature verifies", async () => {
  const pair = generateEd25519KeyPair();
  const sign = await webCryptoSigner(encodeOpenSshPrivateKey(pair.privateKey, "alice"));
  const data = new TextEncoder().encode("GET /v1/webapi/sites/c/nodes 1700000000 nonce");
  const blob = await sign(data);
  // Ed25519 is deterministic: both implementations give the same bytes.
  assert.deepEqual(blob, signData(pair.privateKey, data));
  assert.ok(verifySignature(pair.publicKey, data, blob));
  assert.ok(!verifySignature(pair.publicKey, new TextEncoder().encode("other"), blob));
});

Deno.test("webCryptoSigner() refuses a key file whose public part is not its private key's", async () => {
  const mine = readEd25519KeyFile(encodeOpenSshPrivateKey(generateEd25519KeyPair().privateKey));
  const other = readEd25519KeyFile(encodeOpenSshPrivateKey(generateEd25519KeyPair().privateKey));
  const mixed = writeEd25519KeyFile({ seed: mine.seed, publicKey: other.publicKey, comment: "" });
  await assert.rejects(
    webCryptoSigner(mixed),
    (e) => e instanceof CertError && e.reason === "malformed" && /do not match/.test(e.message),
  );
});

Deno.test("webCryptoSigner() refuses what is not an unencrypted ed25519 key file", async () => {
  await assert.rejects(
    webCryptoSigner("not a key"),
    (e) => e instanceof CertError && e.reason === "malformed",
  );
});
