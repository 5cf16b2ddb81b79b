import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Secret, TOTP } from "otpauth";
import {
  checkTotp,
  hotp,
  newTotpSecret,
  otpauthUri,
  qrDataUrl,
  totpCode,
  totpStep,
} from "../../lib/auth/totp.ts";

// RFC 6238 appendix B, SHA-1 rows: the key is the ASCII "12345678901234567890".
const RFC_KEY = new TextEncoder().encode("12345678901234567890");
const RFC_SECRET = new Secret({ buffer: RFC_KEY.slice().buffer }).base32;
const RFC_VECTORS: [number, string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

Deno.test("hotp() and totpCode() match the RFC 6238 SHA-1 vectors", () => {
  for (const [seconds, expected] of RFC_VECTORS) {
    assert.equal(hotp(RFC_KEY, totpStep(seconds * 1000), 8), expected, `T=${seconds}`);
    // Six digits are the low six of the eight.
    assert.equal(totpCode(RFC_SECRET, seconds * 1000), expected.slice(2), `T=${seconds}`);
    assert.equal(totpCode(RFC_SECRET, new Date(seconds * 1000)), expected.slice(2));
  }
});

Deno.test("totpCode() agrees with npm:otpauth for fresh secrets", () => {
  for (let i = 0; i < 5; i++) {
    const secret = newTotpSecret();
    const t = 1_700_000_000_000 + i * 7_919_000;
    const reference = new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: t });
    assert.equal(totpCode(secret, t), reference);
  }
});

Deno.test("newTotpSecret() returns 20 random bytes in base32", () => {
  const a = newTotpSecret();
  assert.match(a, /^[A-Z2-7]{32}$/);
  assert.equal(Secret.fromBase32(a).bytes.length, 20);
  assert.notEqual(a, newTotpSecret());
});

Deno.test("checkTotp() accepts one step either side and returns the step", () => {
  const secret = newTotpSecret();
  const now = 1_700_000_015_000;
  const step = totpStep(now);
  const at = (s: number) => totpCode(secret, s * 30_000);
  const cases: [string, string | number, number | null][] = [
    ["current step", at(step), step],
    ["previous step", at(step - 1), step - 1],
    ["next step", at(step + 1), step + 1],
    ["two steps back", at(step - 2), null],
    ["two steps ahead", at(step + 2), null],
    ["with spaces", `${at(step).slice(0, 3)} ${at(step).slice(3)}`, step],
    ["too short", at(step).slice(1), null],
    ["too long", at(step) + "0", null],
    ["letters", "abcdef", null],
    ["empty", "", null],
  ];
  for (const [name, code, expected] of cases) {
    assert.equal(checkTotp(secret, String(code), now, 0), expected, name);
  }
});

Deno.test("checkTotp() refuses steps at or before the last used one", () => {
  const secret = newTotpSecret();
  const now = 1_700_000_015_000;
  const step = totpStep(now);
  const code = totpCode(secret, now);
  assert.equal(checkTotp(secret, code, now, step - 1), step);
  assert.equal(checkTotp(secret, code, now, step), null, "replay of the same code");
  assert.equal(checkTotp(secret, totpCode(secret, now - 30_000), now, step), null, "older code");
  assert.equal(checkTotp(secret, totpCode(secret, now + 30_000), now, step), step + 1);
});

Deno.test("otpauthUri() and qrDataUrl() produce what authenticator apps read", async () => {
  const secret = newTotpSecret();
  const uri = new URL(otpauthUri(secret, "alice"));
  assert.equal(uri.protocol, "otpauth:");
  assert.equal(uri.host, "totp");
  assert.equal(decodeURIComponent(uri.pathname), "/postern:alice");
  assert.equal(uri.searchParams.get("secret"), secret);
  assert.equal(uri.searchParams.get("issuer"), "postern");
  assert.equal(uri.searchParams.get("digits"), "6");
  assert.equal(uri.searchParams.get("period"), "30");
  assert.equal(uri.searchParams.get("algorithm"), "SHA1");
  assert.match(otpauthUri(secret, "bob", "acme corp"), /^otpauth:\/\/totp\/acme%20corp:bob\?/);

  const url = await qrDataUrl(uri.href);
  const prefix = "data:image/png;base64,";
  assert.ok(url.startsWith(prefix));
  const png = Buffer.from(url.slice(prefix.length), "base64");
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
});
