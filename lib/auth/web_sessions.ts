/**
 * Web sessions of the auth role: opened at sign-in with a key and a user
 * certificate of their own (the private key never leaves auth), looked up
 * and refreshed by their cookie, listed by a non-secret handle, and ended by
 * their user or an administrator (their connections revoked with them). The
 * session's ssh-agent, which proxies use for web terminals, answers here.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { NotFound, Unauthenticated } from "../errors.ts";
import { encodeOpenSshPrivateKey, generateEd25519KeyPair } from "../sshcert/mod.ts";
import { hashSecret, type SecretHash, type Store, type WebSessionRecord } from "../store/store.ts";
import type { AuditInput } from "./audit.ts";
import { type CertAuthority, userPrincipals } from "./authority.ts";
import { newToken } from "./credentials.ts";
import type { RevocationFeed } from "./revocation_feed.ts";
import type { Identity, NewWebSession, WebSessionSummary, WebSessionView } from "./service.ts";
import { answerWebSessionAgent } from "./web_session_agent.ts";

/** How long web sessions last. */
export interface WebSessionLimits {
  /** The longest a session lasts (less when the user's roles allow less). */
  ttlMs: number;
  /** A session unused this long expires. */
  idleMs: number;
}

/** The CSRF token of a web session: derived from its secret id, so it needs no storage. */
function csrfTokenFor(sessionId: string): string {
  return createHash("sha256").update(`postern-csrf:${sessionId}`).digest("base64url");
}

/** The non-secret handle a web session is listed and ended by. */
function handleOf(idHash: SecretHash): string {
  return idHash.slice(0, 16);
}

/** Browser sessions over the store. */
export class WebSessions {
  /**
   * @param identityOf the identity of a user; refuses a user removed or locked
   */
  constructor(
    private readonly store: Store,
    private readonly ca: CertAuthority,
    private readonly limits: WebSessionLimits,
    private readonly revocations: RevocationFeed,
    private readonly audit: (event: AuditInput) => Promise<void>,
    private readonly identityOf: (user: string) => Promise<Identity>,
    private readonly now: () => number,
  ) {}

  /** Opens a session for a signed-in identity, for at most its roles' TTL. */
  async open(identity: Identity): Promise<NewWebSession> {
    const now = this.now();
    const ttlMs = Math.min(this.limits.ttlMs, identity.maxSessionTtlMs);
    const sessionId = newToken();
    const pair = generateEd25519KeyPair();
    const cert = this.ca.signUser({
      publicKey: pair.publicKeyBlob,
      user: identity.user,
      principals: userPrincipals(identity.logins),
      ttlMs,
      permits: identity,
      now,
    });
    const csrfToken = csrfTokenFor(sessionId);
    await this.store.webSessions.create({
      idHash: hashSecret(sessionId),
      user: identity.user,
      csrfTokenHash: hashSecret(csrfToken),
      privateKey: encodeOpenSshPrivateKey(pair.privateKey, identity.user),
      cert: cert.line,
      created: now,
      lastSeen: now,
      expiresIdle: Math.min(now + this.limits.idleMs, now + ttlMs),
      expiresAbs: now + ttlMs,
    });
    return { sessionId, csrfToken, identity, expires: new Date(now + ttlMs) };
  }

  /** The session of a cookie value, unchanged; Unauthenticated when absent or expired. */
  async live(sessionId: string): Promise<WebSessionRecord> {
    const record = await this.store.webSessions.get(hashSecret(sessionId));
    const now = this.now();
    if (!record || record.expiresIdle <= now || record.expiresAbs <= now) {
      throw new Unauthenticated("Your session has expired; sign in again.");
    }
    return record;
  }

  /** The session of a cookie value, its idle expiry pushed back; Unauthenticated when expired. */
  async refresh(sessionId: string): Promise<WebSessionView> {
    const idHash = hashSecret(sessionId);
    const record = await this.store.webSessions.touch(idHash, this.now(), this.limits.idleMs);
    if (!record) throw new Unauthenticated("Your session has expired; sign in again.");
    return {
      identity: await this.identityOf(record.user),
      handle: handleOf(idHash),
      expires: new Date(Math.min(record.expiresIdle, record.expiresAbs)),
      csrfToken: csrfTokenFor(sessionId),
    };
  }

  /** Signs a session out (nothing happens when it does not exist); audited as `user.logout`. */
  async signOut(sessionId: string, remoteAddr: string): Promise<void> {
    const idHash = hashSecret(sessionId);
    const record = await this.store.webSessions.get(idHash);
    await this.store.webSessions.delete(idHash);
    if (!record) return;
    await this.revocations.revoke(record.user, "signed out", { webSessionHash: idHash });
    await this.audit({ code: "user.logout", user: record.user, remoteAddr });
  }

  /** A user's sessions that have not expired. */
  async listOf(user: string): Promise<WebSessionSummary[]> {
    const now = this.now();
    return (await this.store.webSessions.listForUser(user))
      .filter((s) => s.expiresIdle > now && s.expiresAbs > now)
      .map((s) => ({
        handle: handleOf(s.idHash),
        created: new Date(s.created),
        lastSeen: new Date(s.lastSeen),
        expires: new Date(Math.min(s.expiresIdle, s.expiresAbs)),
      }));
  }

  /** Ends one of `user`'s own sessions; NotFound when the handle names none. */
  async end(user: string, handle: string): Promise<void> {
    if (!(await this.#end(user, handle, "signed out"))) {
      throw new NotFound(`No web session "${handle}".`);
    }
  }

  /** Ends a session of user `name` for an administrator; audited as `user.web_session.end`. */
  async endAsAdmin(name: string, handle: string, actor?: string): Promise<void> {
    if (!(await this.#end(name, handle, "signed out by an administrator"))) {
      throw new NotFound(`User "${name}" has no web session "${handle}".`);
    }
    await this.audit({
      code: "user.web_session.end",
      user: actor,
      fields: { name, session: handle },
    });
  }

  /** Deletes `user`'s session `handle` and revokes its connections; false when there is none. */
  async #end(user: string, handle: string, reason: string): Promise<boolean> {
    const found = (await this.store.webSessions.listForUser(user))
      .find((s) => handleOf(s.idHash) === handle);
    if (!found) return false;
    await this.store.webSessions.delete(found.idHash);
    await this.revocations.revoke(user, reason, { webSessionHash: found.idHash });
    return true;
  }

  /** Answers one ssh-agent request of a live session whose user may still sign in. */
  async agent(sessionId: string, request: Uint8Array): Promise<Uint8Array> {
    const record = await this.live(sessionId);
    await this.identityOf(record.user); // refuses a removed or locked user
    return answerWebSessionAgent(record, request);
  }

  /**
   * Deletes the sessions (and their keys) expired at `now`.
   *
   * @returns how many were deleted
   */
  deleteExpired(now: number): Promise<number> {
    return this.store.webSessions.deleteExpired(now);
  }
}
