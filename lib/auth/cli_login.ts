/**
 * Command-line login approved in a browser (`postern login --browser`, and
 * `--auth <connector>` for single sign-on): the CLI registers its public key
 * and gets a secret to poll with and a short code; the user, signed in to
 * the web UI, compares the code and approves with a fresh second factor (a
 * security key, or a code); auth then certifies the key and the CLI's next
 * poll receives the certificate, once. No FIDO library is needed in the CLI.
 *
 * @module
 */

import { randomInt } from "node:crypto";
import { NotFound } from "../errors.ts";
import { type CliLoginRecord, hashSecret, type Store } from "../store/store.ts";
import { newToken } from "./credentials.ts";

/** How long a login waits for its approval. */
export const CLI_LOGIN_TTL_MS = 10 * 60_000;
/** Letters that read unambiguously aloud and on screen, and spell no words. */
const CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";

/** A new code like "KXQF-7RTM" (8 letters, ~34 bits: it is compared, not secret). */
function newCode(): string {
  const letters = Array.from({ length: 8 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]);
  return `${letters.slice(0, 4).join("")}-${letters.slice(4).join("")}`;
}

/** The pending logins over the store. */
export class CliLogins {
  constructor(private readonly store: Store, private readonly now: () => number) {}

  /**
   * Registers a login for `publicKey`.
   *
   * @returns the secret the CLI polls with, and the code the user compares
   */
  async start(
    request: { publicKey: string; ttlMs?: number; remoteAddr: string },
  ): Promise<{ requestId: string; code: string; expires: Date }> {
    const requestId = newToken();
    const now = this.now();
    const record: CliLoginRecord = {
      idHash: hashSecret(requestId),
      code: newCode(),
      publicKey: request.publicKey,
      ttlMs: request.ttlMs ?? null,
      remoteAddr: request.remoteAddr,
      created: now,
      expires: now + CLI_LOGIN_TTL_MS,
      user: null,
      cert: null,
    };
    await this.store.cliLogins.create(record);
    return { requestId, code: record.code, expires: new Date(record.expires) };
  }

  /** The pending login of a code; NotFound when there is none (used, expired, mistyped). */
  async pending(code: string): Promise<CliLoginRecord> {
    const found = typeof code === "string"
      ? await this.store.cliLogins.getPending(code.trim().toUpperCase(), this.now())
      : null;
    if (!found) {
      throw new NotFound(
        `No command-line login waits for code "${code}": it was used or has expired; run postern login again.`,
      );
    }
    return found;
  }

  /** Stores the certificate for a pending login; NotFound when it stopped waiting meanwhile. */
  async approve(code: string, user: string, cert: string): Promise<void> {
    if (!(await this.store.cliLogins.approve(code, user, cert, this.now()))) {
      throw new NotFound("This command-line login has just been used or has expired.");
    }
  }

  /** What the CLI's poll finds; NotFound when the login is unknown or expired. */
  async poll(requestId: string): Promise<CliLoginRecord> {
    const found = typeof requestId === "string"
      ? await this.store.cliLogins.poll(hashSecret(requestId), this.now())
      : null;
    if (!found) {
      throw new NotFound("This login expired before it was approved; run postern login again.");
    }
    return found;
  }
}
