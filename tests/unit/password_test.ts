import assert from "node:assert/strict";
import { isKind } from "../../lib/errors.ts";
import {
  checkPasswordPolicy,
  DEFAULT_SCRYPT_PARAMS,
  dummyVerifyPassword,
  hashPassword,
  needsRehash,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  verifyPassword,
} from "../../lib/auth/password.ts";

// Cheap parameters where the cost is not what a test is about.
const FAST = { N: 2 ** 10, r: 8, p: 1 };

Deno.test("hashPassword() stores parameters and a fresh salt with the hash", async () => {
  const a = await hashPassword("correct horse battery");
  const b = await hashPassword("correct horse battery");
  const { N, r, p } = DEFAULT_SCRYPT_PARAMS;
  const shape = new RegExp(
    `^scrypt\\$${N}\\$${r}\\$${p}\\$[A-Za-z0-9+/]{22}==\\$[A-Za-z0-9+/]{43}=$`,
  );
  assert.match(a, shape);
  assert.notEqual(a, b, "each hash has its own salt");
  assert.equal(await verifyPassword("correct horse battery", a), true);
  assert.equal(await verifyPassword("correct horse batterY", a), false);
  assert.equal(await verifyPassword("", a), false);
});

Deno.test("verifyPassword() uses the parameters stored with the hash", async () => {
  const h = await hashPassword("another long password", FAST);
  assert.match(h, /^scrypt\$1024\$8\$1\$/);
  assert.equal(await verifyPassword("another long password", h), true);
  assert.equal(needsRehash(h), true);
  assert.equal(needsRehash(h, FAST), false);
});

Deno.test("verifyPassword() matches composed and decomposed Unicode", async () => {
  const composed = "caf\u00e9 au lait s'il vous pla\u00eet";
  const h = await hashPassword(composed, FAST);
  assert.equal(await verifyPassword(composed.normalize("NFD"), h), true);
});

Deno.test("verifyPassword() rejects a tampered hash and refuses malformed ones", async () => {
  const h = await hashPassword("tamper proof password", FAST);
  const parts = h.split("$");
  const hash = Uint8Array.from(atob(parts[5]), (c) => c.charCodeAt(0));
  hash[0] ^= 1;
  parts[5] = btoa(String.fromCharCode(...hash));
  assert.equal(await verifyPassword("tamper proof password", parts.join("$")), false);

  const salt = btoa("x".repeat(16));
  const key = btoa("y".repeat(32));
  for (
    const bad of [
      "",
      "plaintext",
      `bcrypt$1024$8$1$${salt}$${key}`,
      `scrypt$1000$8$1$${salt}$${key}`, // N not a power of two
      `scrypt$${2 ** 24}$8$1$${salt}$${key}`, // would allocate 16 GiB
      `scrypt$1024$8$1$${btoa("short")}$${key}`,
      `scrypt$1024$8$1$${salt}`,
    ]
  ) {
    await assert.rejects(verifyPassword("whatever password", bad), /malformed/, bad);
    assert.equal(needsRehash(bad), true);
  }
});

Deno.test("dummyVerifyPassword() returns false after the work of a real verify", async () => {
  const h = await hashPassword("timing equaliser pw");
  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  // The fastest of three of each: a loaded machine only ever adds time, and a
  // shortcut would take ~0 ms however idle the machine is.
  const fastest = async (fn: () => Promise<unknown>) =>
    Math.min(await time(fn), await time(fn), await time(fn));
  const real = await fastest(() => verifyPassword("timing equaliser pw", h));
  const dummy = await fastest(async () =>
    assert.equal(await dummyVerifyPassword("timing equaliser pw"), false)
  );
  assert.ok(dummy > real * 0.3, `dummy ${dummy.toFixed(1)} ms vs real ${real.toFixed(1)} ms`);
});

Deno.test("checkPasswordPolicy() enforces length in characters", () => {
  const cases: [string, boolean][] = [
    ["a".repeat(PASSWORD_MIN_LENGTH - 1), false],
    ["a".repeat(PASSWORD_MIN_LENGTH), true],
    ["a".repeat(PASSWORD_MAX_LENGTH), true],
    ["a".repeat(PASSWORD_MAX_LENGTH + 1), false],
    ["\u{1F511}".repeat(PASSWORD_MIN_LENGTH - 1), false], // 44 UTF-16 units, 11 characters
    ["\u{1F511}".repeat(PASSWORD_MIN_LENGTH), true],
    ["", false],
  ];
  for (const [pw, ok] of cases) {
    if (ok) checkPasswordPolicy(pw);
    else assert.throws(() => checkPasswordPolicy(pw), (e) => isKind(e, "bad_request"), pw);
  }
  assert.throws(() => checkPasswordPolicy("short"), /at least 12/);
});
