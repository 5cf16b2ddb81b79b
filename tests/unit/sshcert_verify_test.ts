import assert from "node:assert/strict";
import { type KeyObject, sign } from "node:crypto";
import {
  CERT_TIME_FOREVER,
  type Certificate,
  type CertRejection,
  decodeCertificate,
  encodePublicKey,
  encodeSignature,
  keyPairOf,
  signData,
  SshWriter,
  verifyCertificateKeySignature,
  type VerifyCertificateOptions,
} from "../../lib/sshcert/mod.ts";
import { writeCertificateBody } from "../../lib/sshcert/certificate.ts";
import { CA, issue, KEYS, NOW, OTHER_CA, USER, verify } from "./sshcert_fixtures.ts";

Deno.test("verifyCertificate() accepts or refuses with the expected reason", () => {
  const base = decodeCertificate(issue().blob);
  const rsaCa = KEYS.rsa;
  const sha1Body = writeCertificateBody({ ...base, signatureKey: rsaCa.publicKey });
  const sha1Signature = encodeSignature(
    "ssh-rsa",
    sign("sha1", sha1Body.bytes(), rsaCa.privateKey),
  );
  const flipped = issue().blob.slice();
  flipped[flipped.length - 3] ^= 0x40;
  const cases: {
    name: string;
    cert: Certificate;
    options?: Partial<VerifyCertificateOptions>;
    expect: CertRejection | "ok";
    message?: RegExp;
  }[] = [
    { name: "valid", cert: base, expect: "ok" },
    {
      name: "unknown CA",
      cert: base,
      options: { trustedCAs: [OTHER_CA.publicKeyBlob] },
      expect: "untrusted_ca",
      message: /^Cannot accept certificate "alice": its CA SHA256:\S+ is not trusted here$/,
    },
    { name: "no CAs", cert: base, options: { trustedCAs: [] }, expect: "untrusted_ca" },
    {
      name: "field changed after signing",
      cert: { ...base, principals: [...base.principals, "bob"] },
      expect: "bad_signature",
      message: /its CA signature is invalid/,
    },
    { name: "signature bit flipped", cert: decodeCertificate(flipped), expect: "bad_signature" },
    {
      name: "SHA-1 CA signature",
      cert: decodeCertificate(sha1Body.string(sha1Signature).bytes()),
      options: { trustedCAs: [rsaCa.publicKeyBlob] },
      expect: "bad_signature",
    },
    {
      name: "signature relabelled",
      cert: { ...base, signature: encodeSignature("ecdsa-sha2-nistp256", new Uint8Array(64)) },
      expect: "bad_signature",
    },
    {
      name: "garbage signature",
      cert: { ...base, signature: Uint8Array.of(1) },
      expect: "bad_signature",
    },
    {
      name: "user cert as host",
      cert: base,
      options: { type: "host" },
      expect: "wrong_type",
      message: /it is a user certificate, not a host one/,
    },
    {
      name: "host cert as user",
      cert: decodeCertificate(issue({ type: "host" }).blob),
      expect: "wrong_type",
    },
    {
      name: "expired at validBefore",
      cert: base,
      options: { now: new Date(NOW.getTime() + 3600e3) },
      expect: "expired",
      message: /"alice": it expired at 2030-06-01T13:00:00Z$/,
    },
    {
      name: "expired but within skew",
      cert: base,
      options: { now: new Date(NOW.getTime() + 3630e3), clockSkewSeconds: 60 },
      expect: "ok",
    },
    {
      name: "expired beyond skew",
      cert: base,
      options: { now: new Date(NOW.getTime() + 3660e3), clockSkewSeconds: 60 },
      expect: "expired",
    },
    {
      name: "not yet valid",
      cert: base,
      options: { now: new Date(NOW.getTime() - 3601e3) },
      expect: "not_yet_valid",
      message: /valid only from 2030-06-01T11:00:00Z$/,
    },
    {
      name: "not yet valid but within skew",
      cert: base,
      options: { now: new Date(NOW.getTime() - 3630e3), clockSkewSeconds: 60 },
      expect: "ok",
    },
    {
      name: "valid forever",
      cert: decodeCertificate(issue({ validAfter: 0n, validBefore: CERT_TIME_FOREVER }).blob),
      options: { now: new Date("2999-01-01T00:00:00Z") },
      expect: "ok",
    },
    {
      name: "principal not listed",
      cert: base,
      options: { principal: "bob" },
      expect: "principal_not_allowed",
      message: /does not allow "bob" \(allowed: root, alice\)/,
    },
    {
      name: "no principals",
      cert: decodeCertificate(issue({ principals: [] }).blob),
      expect: "principal_not_allowed",
    },
    { name: "principal unchecked", cert: base, options: { principal: undefined }, expect: "ok" },
    {
      name: "unknown critical option",
      cert: decodeCertificate(issue({ criticalOptions: { "verify-required": true } }).blob),
      expect: "unsupported_critical_option",
      message: /critical option "verify-required" is not supported/,
    },
    {
      name: "force-command without a value",
      cert: decodeCertificate(issue({ criticalOptions: { "force-command": true } }).blob),
      expect: "unsupported_critical_option",
    },
    {
      name: "force-command",
      cert: decodeCertificate(issue({ criticalOptions: { "force-command": "uptime" } }).blob),
      expect: "ok",
    },
    {
      name: "critical option on a host cert",
      cert: decodeCertificate(
        issue({ type: "host", criticalOptions: { "force-command": "uptime" } }).blob,
      ),
      options: { type: "host" },
      expect: "unsupported_critical_option",
    },
    {
      name: "unknown extension",
      cert: decodeCertificate(issue({ extensions: { "whatever@example.com": "x" } }).blob),
      expect: "ok",
    },
  ];
  const sourceCases: [string, string | undefined, CertRejection | "ok"][] = [
    ["10.0.0.0/8,127.0.0.1", "127.0.0.1", "ok"],
    ["10.0.0.0/8,127.0.0.1", "10.200.3.4", "ok"],
    ["10.0.0.0/8,127.0.0.1", "::ffff:127.0.0.1", "ok"],
    ["10.0.0.0/8,127.0.0.1", "192.168.0.1", "source_address_not_allowed"],
    ["10.0.0.0/8,127.0.0.1", "::1", "source_address_not_allowed"],
    ["10.0.0.0/8,127.0.0.1", undefined, "ok"],
    ["10.0.0.1/8", "10.0.0.1", "unsupported_critical_option"],
    ["*", "10.0.0.1", "unsupported_critical_option"],
  ];
  for (const [list, clientAddress, expect] of sourceCases) {
    cases.push({
      name: `source-address ${list} from ${clientAddress}`,
      cert: decodeCertificate(issue({ criticalOptions: { "source-address": list } }).blob),
      options: { clientAddress },
      expect,
    });
  }
  for (const { name, cert, options, expect, message } of cases) {
    const verdict = verify(cert, options);
    if (expect === "ok") {
      assert.deepEqual(verdict, { ok: true }, name);
      continue;
    }
    assert.equal(verdict.ok, false, name);
    if (verdict.ok) continue;
    assert.equal(verdict.reason, expect, `${name}: ${verdict.message}`);
    assert.match(verdict.message, /^Cannot accept certificate "alice": /, name);
    if (message) assert.match(verdict.message, message, name);
  }
});

Deno.test("verifyCertificate() checks the original bytes of unsorted extensions", () => {
  // Older ssh-keygen appended custom extensions after the permit-* ones; sshd accepts that.
  const body = new SshWriter();
  const base = issue().certificate;
  const sorted = writeCertificateBody(base).bytes();
  const extensions = (w: SshWriter) =>
    w.nested((e) =>
      e.string("permit-pty").u32(0).string("login@github.com").nested((d) => d.string("alice"))
    );
  // Rebuild the body field by field with the unsorted extensions.
  body.string("ssh-ed25519-cert-v01@openssh.com").string(base.nonce).string(
    (base.publicKey as { key: Uint8Array }).key,
  );
  body.u64(base.serial).u32(1).string(base.keyId).nested((p) => p.string("root"));
  body.u64(base.validAfter).u64(base.validBefore).u32(0);
  extensions(body);
  body.u32(0).string(encodePublicKey(CA.publicKey));
  const blob = body.string(signData(CA.privateKey, body.bytes())).bytes();
  const cert = decodeCertificate(blob);
  assert.deepEqual(cert.extensions, { "permit-pty": true, "login@github.com": "alice" });
  assert.deepEqual(verify(cert), { ok: true });
  assert.notDeepEqual(sorted, body.bytes());
});

Deno.test("verifyCertificateKeySignature() checks userauth signatures of the certified key", () => {
  const data = new TextEncoder().encode("session id + USERAUTH_REQUEST");
  const cases: {
    name: string;
    key: KeyObject;
    sign?: "rsa-sha2-256" | "rsa-sha2-512" | "ssh-rsa";
    algorithm?: string;
    expect: boolean;
  }[] = [
    {
      name: "ed25519",
      key: USER.privateKey,
      algorithm: "ssh-ed25519-cert-v01@openssh.com",
      expect: true,
    },
    { name: "no algorithm given", key: USER.privateKey, expect: true },
    { name: "plain algorithm", key: USER.privateKey, algorithm: "ssh-ed25519", expect: false },
    {
      name: "other cert algorithm",
      key: USER.privateKey,
      algorithm: "ecdsa-sha2-nistp256-cert-v01@openssh.com",
      expect: false,
    },
    {
      name: "p384",
      key: KEYS.p384.privateKey,
      algorithm: "ecdsa-sha2-nistp384-cert-v01@openssh.com",
      expect: true,
    },
    {
      name: "rsa-sha2-256",
      key: KEYS.rsa.privateKey,
      sign: "rsa-sha2-256",
      algorithm: "rsa-sha2-256-cert-v01@openssh.com",
      expect: true,
    },
    {
      name: "rsa-sha2-512",
      key: KEYS.rsa.privateKey,
      sign: "rsa-sha2-512",
      algorithm: "rsa-sha2-512-cert-v01@openssh.com",
      expect: true,
    },
    {
      name: "rsa algorithm mismatch",
      key: KEYS.rsa.privateKey,
      sign: "rsa-sha2-256",
      algorithm: "rsa-sha2-512-cert-v01@openssh.com",
      expect: false,
    },
    {
      name: "rsa sha1",
      key: KEYS.rsa.privateKey,
      sign: "ssh-rsa",
      algorithm: "ssh-rsa-cert-v01@openssh.com",
      expect: false,
    },
  ];
  for (const c of cases) {
    const { certificate } = issue({ publicKey: keyPairOf(c.key).publicKey });
    const signature = c.sign === "ssh-rsa"
      ? encodeSignature("ssh-rsa", sign("sha1", data, c.key))
      : signData(c.key, data, { rsaAlgorithm: c.sign });
    const ok = verifyCertificateKeySignature(certificate, data, signature, {
      algorithm: c.algorithm,
    });
    assert.equal(ok, c.expect, c.name);
    if (c.expect) {
      assert.ok(!verifyCertificateKeySignature(certificate, data.subarray(1), signature), c.name);
    }
  }
});
