import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import {
  basicConstraints,
  extendedKeyUsage,
  generateP256KeyPair,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
  subjectOf,
  writeCertificate,
} from "../../lib/tls/certificate_writer.ts";
import { freePort } from "../helpers/ports.ts";

async function newCa(notAfter = new Date(Date.now() + 86_400_000)) {
  const keys = await generateP256KeyPair();
  const pem = await writeCertificate({
    subject: [{ type: "CN", value: "test cluster CA" }, { type: "O", value: "postern" }],
    notBefore: new Date(Date.now() - 60_000),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [
      basicConstraints({ ca: true, pathLength: 0 }),
      keyUsage(["keyCertSign", "cRLSign"]),
      await subjectKeyIdentifier(keys.publicKey),
    ],
  });
  return { pem, keys };
}

async function issue(
  ca: Awaited<ReturnType<typeof newCa>>,
  options: {
    names?: { dns: string[]; ips: string[] };
    purposes?: ("serverAuth" | "clientAuth")[];
    notAfter?: Date;
  } = {},
) {
  const keys = await generateP256KeyPair();
  const pem = await writeCertificate({
    subject: [
      { type: "CN", value: "proxy, one=1" },
      { type: "O", value: "proxy" },
      { type: "OU", value: "test" },
    ],
    issuer: subjectOf(ca.pem),
    notBefore: new Date("2026-01-02T03:04:05.678Z"),
    notAfter: options.notAfter ?? new Date(Date.now() + 3_600_000),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      basicConstraints({ ca: false }),
      keyUsage(["digitalSignature"]),
      extendedKeyUsage(options.purposes ?? ["serverAuth"]),
      ...(options.names ? [subjectAltName(options.names)] : []),
    ],
  });
  const key = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    pem,
    keyPem: `-----BEGIN PRIVATE KEY-----\n${key.toBase64()}\n-----END PRIVATE KEY-----\n`,
  };
}

/** `openssl x509 -text` of a certificate: its reading of the extensions. */
async function openssl(pem: string): Promise<string> {
  const child = new Deno.Command("openssl", {
    args: ["x509", "-noout", "-text"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(pem));
  await writer.close();
  return new TextDecoder().decode((await child.output()).stdout);
}

Deno.test("writeCertificate() makes a CA and certificates that chain to it, as OpenSSL reads them", async () => {
  const ca = await newCa();
  const caCert = new X509Certificate(ca.pem);
  assert.equal(caCert.ca, true);
  assert.deepEqual(caCert.keyUsage, ["KeyCertSign", "CRLSign"]);
  assert.equal(caCert.subject, "CN=test cluster CA\nO=postern");
  assert.ok(caCert.verify(caCert.publicKey), "the CA is self-signed");

  const issued = await issue(ca, {
    names: { dns: ["localhost", "localhost", ""], ips: ["127.0.0.1", "::1", "fe80::1%eth0"] },
    purposes: ["clientAuth", "serverAuth"],
  });
  const leaf = new X509Certificate(issued.pem);
  assert.equal(leaf.ca, false);
  assert.ok(leaf.checkIssued(caCert));
  assert.ok(leaf.verify(caCert.publicKey));
  assert.equal(leaf.issuer, caCert.subject);
  // Values are literal: RFC 4514's special characters need no escaping.
  assert.equal(leaf.subject, "CN=proxy, one=1\nO=proxy\nOU=test");
  assert.equal(
    leaf.subjectAltName,
    "DNS:localhost, IP Address:127.0.0.1, IP Address:::1, IP Address:fe80::1",
  );
  assert.deepEqual(leaf.keyUsage, ["DigitalSignature"]);
  assert.match(
    await openssl(issued.pem),
    /TLS Web Client Authentication, TLS Web Server Authentication/,
  );
  assert.equal(new Date(leaf.validFrom).toISOString(), "2026-01-02T03:04:05.000Z");
});

Deno.test("writeCertificate() writes validity from 2050 on as GeneralizedTime", async () => {
  const ca = await newCa(new Date("2061-06-07T08:09:10Z"));
  assert.equal(
    new Date(new X509Certificate(ca.pem).validTo).toISOString(),
    "2061-06-07T08:09:10.000Z",
  );
});

Deno.test("subjectAltName() refuses an IP address it cannot read", () => {
  for (const ip of ["1.2.3.256", "1:2:3", "::1::2", "g::1", "1:2:3:4:5:6:7:8:9"]) {
    assert.throws(() => subjectAltName({ dns: [], ips: [ip] }), TypeError, ip);
  }
  for (const ip of ["::", "1::", "::ffff:10.0.0.1", "1:2:3:4:5:6:7:8"]) {
    subjectAltName({ dns: [], ips: [ip] });
  }
});

Deno.test("a server certificate issued by writeCertificate() passes Deno's TLS verification", async () => {
  const ca = await newCa();
  const server = await issue(ca, { names: { dns: ["localhost"], ips: ["127.0.0.1"] } });
  const port = freePort();
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port,
    cert: `${server.pem}${ca.pem}`,
    key: server.keyPem,
  });
  const accepted = listener.accept().then(async (conn) => {
    await conn.handshake().catch(() => {});
    conn.close();
  });
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca.pem] });
  await conn.handshake();
  conn.close();
  await accepted;
});
