/**
 * Time-based one-time passwords (RFC 6238): SHA-1, 6 digits, 30-second steps,
 * the parameters every authenticator app supports.
 *
 * The code itself is computed here with node:crypto HMAC (RFC 4226 is a few
 * lines, and owning it keeps the comparison constant-time and the step
 * arithmetic explicit); npm:otpauth provides base32 and the otpauth:// URI,
 * npm:qrcode the enrolment QR code.
 *
 * Replay protection: {@link checkTotp} returns the matched time step; auth
 * stores it with `store.users.useTotpStep(name, step)`, which refuses a step
 * that is not later than the last one used.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import { Secret, TOTP } from "otpauth";

/** Seconds per time step. */
export const TOTP_PERIOD_S = 30;
/** Digits per code. */
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one, for clock skew and typing time. */
export const TOTP_WINDOW = 1;
const SECRET_BYTES = 20;

/**
 * A new random TOTP secret.
 *
 * @returns 20 random bytes, base32 (32 characters, no padding)
 * @example
 * ```ts
 * await store.users.update(name, { totpSecret: newTotpSecret(), totpConfirmed: false }, now);
 * ```
 */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/**
 * The `otpauth://` URI authenticator apps import.
 *
 * @param secret base32 secret
 * @param account the user name shown in the app
 * @param issuer the service name shown in the app
 * @returns the URI; it contains the secret, so treat it as one
 * @example
 * ```ts
 * otpauthUri(secret, "alice"); // "otpauth://totp/postern:alice?issuer=postern&secret=..."
 * ```
 */
export function otpauthUri(secret: string, account: string, issuer = "postern"): string {
  return new TOTP({
    issuer,
    label: account,
    secret: Secret.fromBase32(secret),
    algorithm: "SHA1",
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_S,
  }).toString();
}

/**
 * A QR code of `uri` for the enrolment page.
 *
 * @param uri from {@link otpauthUri}
 * @returns a `data:image/png;base64,...` URL
 * @example
 * ```ts
 * const img = await qrDataUrl(otpauthUri(secret, "alice"));
 * ```
 */
export async function qrDataUrl(uri: string): Promise<string> {
  // Loaded at the first enrolment: nothing else needs it, and start-up should not wait for it.
  const { default: QRCode } = await import("qrcode");
  return await QRCode.toDataURL(uri, { errorCorrectionLevel: "M", margin: 2, scale: 6 });
}

/**
 * HOTP (RFC 4226): the code for one counter value.
 *
 * @param key the raw secret
 * @param counter a non-negative integer below 2^53
 * @param digits code length
 * @returns the zero-padded code
 */
export function hotp(key: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const msg = Buffer.alloc(8);
  msg.writeUInt32BE(Math.floor(counter / 2 ** 32), 0);
  msg.writeUInt32BE(counter % 2 ** 32, 4);
  const mac = createHmac("sha1", key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/**
 * The time step containing `time`.
 *
 * @param time epoch milliseconds or a Date
 * @returns floor(seconds / 30)
 */
export function totpStep(time: number | Date): number {
  return Math.floor(Number(time) / 1000 / TOTP_PERIOD_S);
}

function keyOf(secret: string): Uint8Array {
  return Secret.fromBase32(secret).bytes;
}

/**
 * The code an authenticator app shows at `time` (tests and the CLI use it).
 *
 * @param secret base32 secret
 * @param time epoch milliseconds or a Date
 * @returns 6 digits
 * @example
 * ```ts
 * totpCode(secret, Date.now()); // "492039"
 * ```
 */
export function totpCode(secret: string, time: number | Date): string {
  return hotp(keyOf(secret), totpStep(time));
}

/**
 * Checks a code typed by the user.
 *
 * Accepts the current step and one either side, except steps at or before
 * `lastUsedStep` (a code already used, or older than one already used). All
 * candidates are computed and compared in constant time whatever matches.
 *
 * @param secret base32 secret
 * @param code what the user typed; spaces are ignored
 * @param now epoch milliseconds or a Date
 * @param lastUsedStep the user's last accepted step (0 if none)
 * @returns the matched step, to be recorded with `useTotpStep`, or null
 * @example
 * ```ts
 * const step = checkTotp(user.totpSecret, body.otp, now, user.lastTotpStep);
 * if (step === null || !(await store.users.useTotpStep(user.name, step))) deny();
 * ```
 */
export function checkTotp(
  secret: string,
  code: string,
  now: number | Date,
  lastUsedStep: number,
): number | null {
  const typed = Buffer.from(code.replace(/\s+/g, ""));
  const key = keyOf(secret);
  const current = totpStep(now);
  let matched: number | null = null;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    const expected = Buffer.from(hotp(key, step));
    // Equal lengths for timingSafeEqual; a wrong length just fails.
    const same = typed.length === expected.length && timingSafeEqual(typed, expected);
    if (same && step > lastUsedStep && matched === null) matched = step;
  }
  return matched;
}
