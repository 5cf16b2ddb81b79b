import assert from "node:assert/strict";
import {
  CERT_TIME_FOREVER,
  type CertErrorReason,
  type Certificate,
  decodeCertificate,
  encodeCertificate,
  formatCertificateLine,
  parseCertificateLine,
  parseSignature,
  type SignCertificateOptions,
  SshWriter,
} from "../../lib/sshcert/mod.ts";
import { assertCertError, CA, issue, KEYS, OTHER_CA, USER, verify } from "./sshcert_fixtures.ts";

/** Every field set to a value different from any default. */
const FULL: Certificate = {
  nonce: Uint8Array.from({ length: 32 }, (_, i) => i + 1),
  publicKey: USER.publicKey,
  serial: 0xfedc_ba98_7654_3210n,
  type: "host",
  keyId: "key id ✓",
  principals: ["a", "b.example.com"],
  validAfter: 1234n,
  validBefore: 0xffff_ffff_ffff_fffen,
  criticalOptions: { "force-command": "/bin/echo hi", "zz@example.com": true },
  extensions: { "permit-pty": true, "login@github.com": "alice", "empty@example.com": "" },
  reserved: Uint8Array.of(9, 8),
  signatureKey: CA.publicKey,
  signature: Uint8Array.of(7, 7, 7),
};

Deno.test("encodeCertificate() and decodeCertificate() round-trip every field", () => {
  const blob = encodeCertificate(FULL);
  assert.deepEqual(decodeCertificate(blob), FULL);
  assert.deepEqual(encodeCertificate(decodeCertificate(blob)), blob);

  // Changing any one field changes the encoding and survives decoding, so no
  // field can be silently dropped by either direction.
  const variants: { [K in keyof Certificate]: Certificate[K] } = {
    nonce: new Uint8Array(32),
    publicKey: OTHER_CA.publicKey,
    serial: 1n,
    type: "user",
    keyId: "other",
    principals: ["b.example.com", "a"],
    validAfter: 1235n,
    validBefore: CERT_TIME_FOREVER,
    criticalOptions: { "force-command": "/bin/echo hi", "zz@example.com": "" },
    extensions: { "permit-pty": true, "login@github.com": "alice", "empty@example.com": true },
    reserved: new Uint8Array(0),
    signatureKey: KEYS.p256.publicKey,
    signature: Uint8Array.of(7, 7),
  };
  assert.deepEqual(Object.keys(variants).sort(), Object.keys(FULL).sort());
  for (const field of Object.keys(variants) as (keyof Certificate)[]) {
    const changed = { ...FULL, [field]: variants[field] };
    const changedBlob = encodeCertificate(changed);
    assert.notDeepEqual(changedBlob, blob, `${field} is not encoded`);
    assert.deepEqual(decodeCertificate(changedBlob), changed, `${field} is not decoded`);
  }
});

Deno.test("decodeCertificate() reads certificates for every subject and CA key type", () => {
  for (const [subjectName, subject] of Object.entries(KEYS)) {
    for (const [caName, ca] of Object.entries(KEYS)) {
      for (const rsaAlgorithm of ["rsa-sha2-256", "rsa-sha2-512"] as const) {
        const label = `${subjectName} signed by ${caName} (${rsaAlgorithm})`;
        const { blob, certificate } = issue({
          caPrivateKey: ca.privateKey,
          publicKey: subject.publicKey,
          rsaAlgorithm,
        });
        const decoded = decodeCertificate(blob);
        assert.deepEqual(decoded, certificate, label);
        assert.deepEqual(encodeCertificate(decoded), blob, label);
        assert.equal(
          parseSignature(decoded.signature).algorithm,
          caName === "rsa" ? rsaAlgorithm : ca.publicKey.type,
          label,
        );
        assert.deepEqual(verify(decoded, { trustedCAs: [ca.publicKeyBlob] }), { ok: true }, label);
      }
    }
  }
});

/** A certificate blob written by hand so that each field can be broken. */
function rawCert(p: {
  name?: string;
  typeCode?: number;
  principals?: (w: SshWriter) => void;
  extensions?: (w: SshWriter) => void;
  signatureKey?: Uint8Array;
  trailing?: boolean;
}): Uint8Array {
  const w = new SshWriter();
  w.string(p.name ?? "ssh-ed25519-cert-v01@openssh.com").string(new Uint8Array(32));
  w.string((USER.publicKey as { key: Uint8Array }).key).u64(1n).u32(p.typeCode ?? 1).string("id");
  w.nested(p.principals ?? ((n) => n.string("root"))).u64(0n).u64(CERT_TIME_FOREVER).u32(0);
  w.nested(p.extensions ?? (() => {})).u32(0).string(p.signatureKey ?? CA.publicKeyBlob);
  w.string(new Uint8Array(10));
  if (p.trailing) w.u8(0);
  return w.bytes();
}

Deno.test("decodeCertificate() refuses malformed certificates with a reason", () => {
  const certBlob = issue().blob;
  const cases: { name: string; blob: Uint8Array; reason: CertErrorReason; message: RegExp }[] = [
    { name: "type 3", blob: rawCert({ typeCode: 3 }), reason: "malformed", message: /type 3/ },
    { name: "type 0", blob: rawCert({ typeCode: 0 }), reason: "malformed", message: /type 0/ },
    {
      name: "security key cert",
      blob: rawCert({ name: "sk-ssh-ed25519-cert-v01@openssh.com" }),
      reason: "unsupported",
      message: /sk-ssh-ed25519/,
    },
    {
      name: "plain key",
      blob: rawCert({ name: "ssh-ed25519" }),
      reason: "unsupported",
      message: /"ssh-ed25519"/,
    },
    {
      name: "257 principals",
      blob: rawCert({ principals: (n) => Array.from({ length: 257 }, () => n.string("x")) }),
      reason: "malformed",
      message: /principals: more than 256/,
    },
    {
      name: "repeated extension",
      blob: rawCert({ extensions: (e) => e.string("a").u32(0).string("a").u32(0) }),
      reason: "malformed",
      message: /"a" appears twice/,
    },
    {
      name: "extension data not one string",
      blob: rawCert({ extensions: (e) => e.string("a").nested((d) => d.string("x").u8(0)) }),
      reason: "malformed",
      message: /extensions \("a"\): 1 unexpected trailing bytes/,
    },
    {
      name: "certificate as CA key",
      blob: rawCert({ signatureKey: certBlob }),
      reason: "unsupported",
      message: /signing key/,
    },
    {
      name: "trailing byte",
      blob: rawCert({ trailing: true }),
      reason: "malformed",
      message: /trailing/,
    },
    {
      name: "truncated",
      blob: certBlob.subarray(0, certBlob.length - 1),
      reason: "malformed",
      message: /truncated/,
    },
  ];
  assert.equal(decodeCertificate(rawCert({})).keyId, "id"); // unbroken, the form is valid
  for (const { name, blob, reason, message } of cases) {
    assertCertError(() => decodeCertificate(blob), reason, name);
    assert.throws(() => decodeCertificate(blob), message, name);
  }
});

Deno.test("decodeCertificate() keeps no reference to its input", () => {
  const { blob, certificate } = issue();
  const decoded = decodeCertificate(blob);
  blob.fill(0);
  assert.deepEqual(decoded, certificate);
  assert.deepEqual(verify(decoded), { ok: true });
});

Deno.test("parseCertificateLine() reads what formatCertificateLine() writes", () => {
  const { line, blob, certificate } = issue({ comment: "alice@laptop" });
  assert.match(line, /^ssh-ed25519-cert-v01@openssh\.com AAAA\S+ alice@laptop$/);
  assert.equal(formatCertificateLine(certificate, "alice@laptop"), line);
  assert.deepEqual(parseCertificateLine(line), { certificate, blob, comment: "alice@laptop" });
  const wrongType = line.replace("ssh-ed25519-cert", "ssh-rsa-cert");
  assertCertError(() => parseCertificateLine(wrongType), "malformed", "type mismatch");
});

Deno.test("signCertificate() refuses invalid fields", () => {
  const cases: [string, Partial<SignCertificateOptions>][] = [
    ["empty window", { validAfter: 10n, validBefore: 9n }],
    ["NUL in key id", { keyId: "a\0b" }],
    ["NUL in principal", { principals: ["root\0"] }],
    ["NUL in option", { criticalOptions: { "force-command": "a\0" } }],
    ["negative serial", { serial: -1n }],
    ["too many principals", { principals: Array(257).fill("x") }],
    ["time before 1970", { validAfter: new Date(-1000) }],
  ];
  for (const [name, overrides] of cases) assertCertError(() => issue(overrides), "malformed", name);
});
