/**
 * Password hashing with scrypt (node:crypto, run off the main thread).
 *
 * A stored hash reads `scrypt$N$r$p$salt$hash` (salt and hash base64), so the
 * parameters travel with each hash: raising them later only changes new hashes,
 * and {@link needsRehash} tells auth to re-hash on the next successful login.
 *
 * Parameters: N=2^14, r=8, p=1 (16 MiB per hash). Measured under Deno 2.9.6 on
 * the 2-core build machine, one scrypt call takes ~45 ms at N=2^14 and ~100 ms at
 * N=2^15; a login verifies once, so 2^14 keeps a login well under 100 ms while
 * 2^15 would not. Online guessing is bounded by the lockout, not by scrypt; an
 * offline attacker with the database still pays 16 MiB and ~2^24 block
 * operations per guess. Passwords are NFC-normalised so the same password typed
 * on different systems matches.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { BadRequest } from "../errors.ts";

/** scrypt cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/** The parameters new hashes use (see the module doc for why). */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({
  N: 2 ** 14,
  r: 8,
  p: 1,
});

/** Shortest password {@link checkPasswordPolicy} accepts, in characters. */
export const PASSWORD_MIN_LENGTH = 12;
/** Longest password {@link checkPasswordPolicy} accepts, in characters. */
export const PASSWORD_MAX_LENGTH = 1024;

const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds for parameters read back from the store: a corrupted or hostile row
// must not make one verify allocate gigabytes or run for minutes.
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;

function derive(password: string, salt: Uint8Array, keyLen: number, params: ScryptParams) {
  const { N, r, p } = params;
  return new Promise<Uint8Array>((resolve, reject) => {
    // maxmem: scrypt needs 128·N·r bytes (plus a little); allow twice that.
    scrypt(password.normalize("NFC"), salt, keyLen, { N, r, p, maxmem: 256 * N * r }, (e, key) => {
      if (e) reject(e);
      else resolve(key);
    });
  });
}

function validParams({ N, r, p }: ScryptParams): boolean {
  return Number.isInteger(N) && N >= 2 && N <= 2 ** MAX_LOG2_N && (N & (N - 1)) === 0 &&
    Number.isInteger(r) && r >= 1 && r <= MAX_R && Number.isInteger(p) && p >= 1 && p <= MAX_P;
}

interface Decoded {
  params: ScryptParams;
  salt: Uint8Array;
  hash: Uint8Array;
}

function decode(encoded: string): Decoded | null {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = parts.slice(1, 4).map((x) => /^\d{1,8}$/.test(x) ? Number(x) : NaN);
  const params = { N, r, p };
  const salt = Buffer.from(parts[4], "base64");
  const hash = Buffer.from(parts[5], "base64");
  if (!validParams(params) || salt.length < SALT_BYTES || hash.length < 16 || hash.length > 64) {
    return null;
  }
  return { params, salt, hash };
}

/**
 * Hashes a password with a fresh random salt.
 *
 * @param password the password (check it with {@link checkPasswordPolicy} first)
 * @param params cost parameters; DEFAULT_SCRYPT_PARAMS unless given
 * @returns `scrypt$N$r$p$salt_b64$hash_b64`
 * @example
 * ```ts
 * const passwordHash = await hashPassword("correct horse battery");
 * ```
 */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  if (!validParams(params)) throw new RangeError("Cannot hash password: invalid scrypt parameters");
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, KEY_BYTES, params);
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
  return `scrypt$${params.N}$${params.r}$${params.p}$${b64(salt)}$${b64(hash)}`;
}

/**
 * Checks a password against a stored hash in constant time.
 *
 * @param password what the user typed
 * @param encoded a hash from {@link hashPassword}
 * @returns true when they match
 * @throws Error when `encoded` is not a hash this module wrote (a corrupted
 *   store); the message holds no part of the hash
 * @example
 * ```ts
 * if (!(await verifyPassword(typed, user.passwordHash))) await recordFailure();
 * ```
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const decoded = decode(encoded);
  if (!decoded) throw new Error("Cannot verify password: the stored password hash is malformed");
  const actual = await derive(password, decoded.salt, decoded.hash.length, decoded.params);
  return timingSafeEqual(actual, decoded.hash);
}

/**
 * Spends the time of one {@link verifyPassword} and returns false. Call it when
 * the user does not exist or has no password, so response time does not tell
 * which user names exist.
 *
 * @param password what the caller typed
 * @returns false, always
 * @example
 * ```ts
 * const ok = user?.passwordHash
 *   ? await verifyPassword(pw, user.passwordHash)
 *   : await dummyVerifyPassword(pw);
 * ```
 */
export async function dummyVerifyPassword(password: string): Promise<false> {
  const salt = randomBytes(SALT_BYTES);
  const actual = await derive(password, salt, KEY_BYTES, DEFAULT_SCRYPT_PARAMS);
  timingSafeEqual(actual, randomBytes(KEY_BYTES));
  return false;
}

/**
 * Whether a stored hash was made with other parameters than `params` (and
 * should be replaced after the next successful login).
 *
 * @param encoded a stored hash
 * @param params the current parameters; DEFAULT_SCRYPT_PARAMS unless given
 * @returns true when it should be re-hashed (or is malformed)
 */
export function needsRehash(
  encoded: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): boolean {
  const decoded = decode(encoded);
  if (!decoded) return true;
  const { N, r, p } = decoded.params;
  return N !== params.N || r !== params.r || p !== params.p || decoded.hash.length !== KEY_BYTES;
}

/**
 * Refuses passwords that are too short or absurdly long. Length counts
 * characters (Unicode code points), not bytes; no composition rules, following
 * NIST SP 800-63B.
 *
 * @param password the new password
 * @throws BadRequest saying what is required
 * @example
 * ```ts
 * checkPasswordPolicy(body.password); // before hashPassword()
 * ```
 */
export function checkPasswordPolicy(password: string): void {
  const length = [...password.normalize("NFC")].length;
  if (length < PASSWORD_MIN_LENGTH) {
    throw new BadRequest(
      `Cannot set password: it has ${length} characters; use at least ${PASSWORD_MIN_LENGTH} (a passphrase of a few words works well)`,
    );
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw new BadRequest(
      `Cannot set password: it has ${length} characters; use at most ${PASSWORD_MAX_LENGTH}`,
    );
  }
}
