import assert from "node:assert/strict";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { generateSelfSigned, loadTlsMaterial } from "../../lib/tls/certificate.ts";
import { createLogger } from "../../lib/log.ts";
import { isKind } from "../../lib/errors.ts";

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: "debug", write: (line) => lines.push(line) }) };
}

Deno.test("loadTlsMaterial() generates an ECDSA P-256 certificate with the expected names, then reuses it", async () => {
  const dataDir = await Deno.makeTempDir();
  const { log } = capture();
  const first = await loadTlsMaterial({ dataDir, publicHost: "proxy.example.com", log });
  const cert = new X509Certificate(first.cert);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  for (const name of ["DNS:localhost", "DNS:proxy.example.com", "IP Address:127.0.0.1"]) {
    assert.ok(cert.subjectAltName?.includes(name), `${name} in ${cert.subjectAltName}`);
  }
  assert.equal((await Deno.stat(join(dataDir, "tls", "key.pem"))).mode! & 0o777, 0o600);
  const second = await loadTlsMaterial({ dataDir, publicHost: "proxy.example.com", log });
  assert.equal(second.fingerprint, first.fingerprint);
});

Deno.test("loadTlsMaterial() regenerates an expired self-signed certificate and says so", async () => {
  const dataDir = await Deno.makeTempDir();
  const twoYearsAgo = new Date(Date.now() - 2 * 365 * 86_400_000);
  const old = await generateSelfSigned({ dns: ["localhost"], ips: ["127.0.0.1"] }, twoYearsAgo);
  await Deno.mkdir(join(dataDir, "tls"));
  await Deno.writeTextFile(join(dataDir, "tls", "cert.pem"), old.cert);
  await Deno.writeTextFile(join(dataDir, "tls", "key.pem"), old.key);
  const { lines, log } = capture();
  const material = await loadTlsMaterial({ dataDir, publicHost: "localhost", log });
  assert.ok(material.notAfter > new Date());
  assert.ok(
    lines.some((l) => /self-signed HTTPS certificate expired; generating a new one/.test(l)),
  );
});

Deno.test("loadTlsMaterial() refuses configured files that are missing or do not match", async () => {
  const dir = await Deno.makeTempDir();
  const { log } = capture();
  const a = await generateSelfSigned({ dns: ["a"], ips: [] });
  const b = await generateSelfSigned({ dns: ["b"], ips: [] });
  await Deno.writeTextFile(join(dir, "a.pem"), a.cert);
  await Deno.writeTextFile(join(dir, "b.key"), b.key);
  await Deno.writeTextFile(join(dir, "junk.pem"), "not a certificate");
  const load = (certFile: string, keyFile: string) =>
    loadTlsMaterial({
      dataDir: dir,
      certFile: join(dir, certFile),
      keyFile: join(dir, keyFile),
      publicHost: "x",
      log,
    });
  await assert.rejects(
    load("missing.pem", "b.key"),
    (e) => isKind(e, "bad_request") && /no such file/.test(e.message),
  );
  await assert.rejects(
    load("a.pem", "b.key"),
    (e) => isKind(e, "bad_request") && /does not match/.test(e.message),
  );
  await assert.rejects(
    load("junk.pem", "b.key"),
    (e) => isKind(e, "bad_request") && /not a PEM certificate/.test(e.message),
  );
  await Deno.writeTextFile(join(dir, "b.pem"), b.cert);
  const ok = await load("b.pem", "b.key");
  assert.equal(ok.selfSigned, false);
});
