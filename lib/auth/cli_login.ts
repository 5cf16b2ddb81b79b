/**
 * Command-line login approved in a browser (`postern login --browser`, and
 * `--auth <connector>` for single sign-on): the CLI registers its public key
 * and gets a secret to poll with and a short code; the user, signed in to
 * the web UI, compares the code and approves with a fresh second factor (a
 * security key, or a code); auth then certifies the key and the CLI's next
 * poll receives the certificate, once. No FIDO library is needed in the CLI.
 * Approvals are audited as `cli.login.approve`, their certificates as
 * `cert.issue`.
 *
 * @module
 */

import { randomInt } from "node:crypto";
import { BadRequest, NotFound, Unauthenticated } from "../errors.ts";
import { parseCertificateLine } from "../sshcert/mod.ts";
import { type CliLoginRecord, hashSecret, type Store } from "../store/store.ts";
import type { AuditInput } from "./audit.ts";
import { type CertIssuer, parsedPublicKey } from "./cert_issuer.ts";
import { type CredentialChecks, newToken } from "./credentials.ts";
import type { CliLoginPoll, CliLoginView, Identity } from "./service.ts";

/** How long a login waits for its approval. */
export const CLI_LOGIN_TTL_MS = 10 * 60_000;
/** Letters that read unambiguously aloud and on screen, and spell no words. */
const CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";

/** A new code like "KXQF-7RTM" (8 letters, ~34 bits: it is compared, not secret). */
function newCode(): string {
  const letters = Array.from({ length: 8 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]);
  return `${letters.slice(0, 4).join("")}-${letters.slice(4).join("")}`;
}

/** The command-line logins over the store. */
export class CliLogins {
  /**
   * @param identityOf the identity of a user; refuses a user removed or locked
   */
  constructor(
    private readonly store: Store,
    private readonly credentials: CredentialChecks,
    private readonly certs: CertIssuer,
    private readonly audit: (event: AuditInput) => Promise<void>,
    private readonly identityOf: (user: string) => Promise<Identity>,
    private readonly now: () => number,
  ) {}

  /**
   * Registers a login for `publicKey`.
   *
   * @returns the secret the CLI polls with, and the code the user compares
   */
  async start(
    request: { publicKey: string; ttlMs?: number; remoteAddr: string },
  ): Promise<{ requestId: string; code: string; expires: Date }> {
    parsedPublicKey(request.publicKey);
    if (request.ttlMs !== undefined && !(typeof request.ttlMs === "number" && request.ttlMs > 0)) {
      throw new BadRequest(`Field "ttl" must be a positive duration.`);
    }
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

  /** The pending login of `code` as the approval page shows it to `identity`. */
  async view(identity: Identity, code: string): Promise<CliLoginView> {
    const login = await this.#pending(code);
    const user = await this.store.users.get(identity.user);
    return {
      code: login.code,
      remoteAddr: login.remoteAddr,
      created: new Date(login.created),
      expires: new Date(login.expires),
      secondFactor: user ? await this.credentials.freshFactorOf(user) : "none",
    };
  }

  /**
   * Approves the login of `code` for `identity` once its fresh second factor
   * checks: certifies the CLI's key, which its next poll receives.
   */
  async approve(
    identity: Identity,
    code: string,
    secondFactor: { otp?: string; webauthn?: unknown },
    remoteAddr: string,
  ): Promise<void> {
    const login = await this.#pending(code);
    const user = await this.store.users.get(identity.user);
    if (!user) throw new Unauthenticated("Your user no longer exists.");
    await this.credentials.confirmFreshFactor(
      user,
      { otp: secondFactor?.otp, webauthn: secondFactor?.webauthn },
      remoteAddr,
      "cli.login.approve",
    );
    const signed = await this.certs.certify(
      identity,
      parsedPublicKey(login.publicKey),
      login.ttlMs ?? undefined,
      login.remoteAddr,
      "browser approval",
    );
    await this.#approved(login.code, identity.user, signed.line);
    await this.audit({
      code: "cli.login.approve",
      user: identity.user,
      remoteAddr,
      fields: { code: login.code, cli_addr: login.remoteAddr },
    });
  }

  /** What the CLI's poll finds: still pending, or the certificate it was approved with. */
  async poll(requestId: string): Promise<CliLoginPoll> {
    const login = await this.#polled(requestId);
    if (!login.cert || !login.user) {
      return { status: "pending", expires: new Date(login.expires) };
    }
    const identity = await this.identityOf(login.user);
    const certificate = parseCertificateLine(login.cert).certificate;
    return {
      status: "approved",
      issued: await this.certs.issued(identity, { line: login.cert, certificate }),
    };
  }

  /** The pending login of a code; NotFound when there is none (used, expired, mistyped). */
  async #pending(code: string): Promise<CliLoginRecord> {
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
  async #approved(code: string, user: string, cert: string): Promise<void> {
    if (!(await this.store.cliLogins.approve(code, user, cert, this.now()))) {
      throw new NotFound("This command-line login has just been used or has expired.");
    }
  }

  /** The login the CLI polls; NotFound when it is unknown or expired. */
  async #polled(requestId: string): Promise<CliLoginRecord> {
    const found = typeof requestId === "string"
      ? await this.store.cliLogins.poll(hashSecret(requestId), this.now())
      : null;
    if (!found) {
      throw new NotFound("This login expired before it was approved; run postern login again.");
    }
    return found;
  }
}
