/**
 * Joining the cluster: one-time join tokens (stored hashed, like invites)
 * that a proxy or an admin's machine redeems for a short-lived X.509 identity
 * of the cluster TLS CA, and the renewal of that identity before it expires.
 * A proxy also gets the SSH host certificate every proxy presents.
 *
 * @module
 */

import { AccessDenied, BadRequest, NotFound, Unauthenticated } from "../errors.ts";
import type { ClusterTlsCa } from "../tls/cluster_ca.ts";
import { hashSecret, type JoinTokenKind, type Store } from "../store/store.ts";
import type { AuditInput } from "./audit.ts";
import { newToken } from "./credentials.ts";

/** How long a proxy identity is valid; proxies renew at half of it. */
export const PROXY_IDENTITY_TTL_MS = 12 * 60 * 60_000;
/** How long an admin identity is valid (not renewed: join again). */
export const ADMIN_IDENTITY_TTL_MS = 12 * 60 * 60_000;
/** Default validity of a join token. */
const TOKEN_TTL_MS = 30 * 60_000;
/** Characters of a token's hash that name it in `tokens ls` and `tokens rm`. */
const TOKEN_ID_LENGTH = 12;
const CALLER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:@\[\]-]{0,127}$/;

/** What a joining proxy or admin machine sends. */
export interface JoinRequest {
  token: string;
  /** The proxy's id (stable across restarts), or a label for an admin identity. */
  id: string;
  /** P-256 public key (SPKI PEM) to certify. */
  tlsPublicKey: string;
  /** Where users reach a proxy. */
  publicAddr?: string;
  sshPublicAddr?: string;
}

/** An X.509 identity of the cluster. */
export interface IssuedIdentity {
  kind: JoinTokenKind;
  id: string;
  cluster: string;
  /** The certificate (PEM). */
  cert: string;
  /** The cluster TLS CA certificate (PEM). */
  ca: string;
  expires: Date;
}

/** A join token as listed. */
export interface JoinTokenView {
  id: string;
  kind: JoinTokenKind;
  expires: Date;
}

/** Join tokens and identities. */
export class Joins {
  constructor(
    private readonly store: Store,
    private readonly tlsCa: ClusterTlsCa,
    private readonly cluster: string,
    private readonly audit: (event: AuditInput) => Promise<void>,
    private readonly now: () => number,
  ) {}

  /** A new one-time token; only its hash is stored. */
  async addToken(
    kind: JoinTokenKind,
    ttlMs = TOKEN_TTL_MS,
    actor?: string,
  ): Promise<{ token: string; expires: Date }> {
    if (kind !== "proxy" && kind !== "admin") {
      throw new BadRequest(`Token type "${kind}" is not proxy or admin.`);
    }
    const token = newToken();
    const now = this.now();
    await this.store.joinTokens.create({
      tokenHash: hashSecret(token),
      kind,
      created: now,
      expires: now + ttlMs,
    });
    await this.audit({ code: "token.add", user: actor, fields: { kind, ttl_s: ttlMs / 1000 } });
    return { token, expires: new Date(now + ttlMs) };
  }

  async listTokens(): Promise<JoinTokenView[]> {
    return (await this.store.joinTokens.list(this.now())).map((t) => ({
      id: t.tokenHash.slice(0, TOKEN_ID_LENGTH),
      kind: t.kind,
      expires: new Date(t.expires),
    }));
  }

  async removeToken(id: string, actor?: string): Promise<void> {
    if (!/^[0-9a-f]{12}$/.test(id)) throw new BadRequest(`"${id}" is not a token id.`);
    if ((await this.store.joinTokens.deleteByPrefix(id)) === 0) {
      throw new NotFound(`No join token "${id}"; list them with \`postern tokens ls\`.`);
    }
    await this.audit({ code: "token.remove", user: actor, fields: { id } });
  }

  /** Redeems a token (once) for an identity; a proxy is registered with its addresses. */
  async redeem(request: JoinRequest, remoteAddr: string): Promise<IssuedIdentity> {
    const id = checkId(request.id);
    const token = await this.store.joinTokens.consume(
      hashSecret(String(request.token ?? "")),
      this.now(),
    );
    if (!token) {
      await this.audit({ code: "cluster.join", remoteAddr, success: false, fields: { id } });
      throw new Unauthenticated(
        "The join token is unknown, used or expired; make a new one with `postern tokens add` on the auth server.",
      );
    }
    if (token.kind === "proxy") {
      await this.store.proxies.upsert({
        id,
        publicAddr: request.publicAddr ?? "",
        sshPublicAddr: request.sshPublicAddr ?? "",
        peerAddr: null,
        lastSeen: this.now(),
      });
    }
    await this.audit({ code: "cluster.join", remoteAddr, fields: { id, kind: token.kind } });
    return await this.#issue(token.kind, id, request.tlsPublicKey);
  }

  /** A new certificate for a proxy that still holds a valid one. */
  async renew(caller: { kind: JoinTokenKind; id: string }, tlsPublicKey: string) {
    if (caller.kind !== "proxy") {
      throw new AccessDenied("Admin identities are not renewed; join again with a new token.");
    }
    return await this.#issue(caller.kind, caller.id, tlsPublicKey);
  }

  /** Whether a proxy identity is still honoured (`postern proxies rm` revokes it). */
  async isRegisteredProxy(id: string): Promise<boolean> {
    return (await this.store.proxies.get(id)) !== null;
  }

  async #issue(kind: JoinTokenKind, id: string, tlsPublicKey: string): Promise<IssuedIdentity> {
    const ttlMs = kind === "proxy" ? PROXY_IDENTITY_TTL_MS : ADMIN_IDENTITY_TTL_MS;
    const now = this.now();
    const cert = await this.tlsCa.issue({
      publicKey: String(tlsPublicKey ?? ""),
      name: { kind, id },
      ttlMs,
      now,
    });
    return {
      kind,
      id,
      cluster: this.cluster,
      cert,
      ca: this.tlsCa.certPem,
      expires: new Date(now + ttlMs),
    };
  }
}

function checkId(id: unknown): string {
  if (typeof id !== "string" || !CALLER_ID.test(id)) {
    throw new BadRequest(
      "The joining id must be 1-128 letters, digits and . _ : @ [ ] - (a host name and port).",
    );
  }
  return id;
}
