/**
 * The SSH certificates auth signs on request: user certificates for a
 * sign-in (audited as `cert.issue`), the short-lived certificates a proxy
 * logs in to a node with on a user's behalf, and proxies' host certificates
 * (which never name a node); and the known_hosts lines with which users
 * trust the host CA for every node and proxy.
 *
 * @module
 */

import { parseHostPort } from "../config/schema.ts";
import { AccessDenied, BadRequest, Unauthenticated } from "../errors.ts";
import {
  type Certificate,
  fingerprint,
  parsePublicKeyLine,
  type PublicKey,
  type SignedCertificate,
} from "../sshcert/mod.ts";
import type { Store } from "../store/store.ts";
import type { AuditInput } from "./audit.ts";
import { type CertAuthority, userPrincipals } from "./authority.ts";
import type { Identity, IssuedCertificate } from "./service.ts";

/** How long a proxy's host certificate lasts. */
const PROXY_HOST_CERT_TTL_MS = 365 * 86_400_000;

/** The key of an authorized_keys line; BadRequest naming the field when it is none. */
export function parsedPublicKey(line: string): PublicKey {
  try {
    return parsePublicKeyLine(line).key;
  } catch (error) {
    throw new BadRequest(
      `Field "pub_key" is not a valid SSH public key: ${(error as Error).message}`,
    );
  }
}

/** Certificate signing over the CAs, for identities the caller has verified. */
export class CertIssuer {
  /**
   * @param proxyHostPatterns the known_hosts patterns of this config's proxy
   */
  constructor(
    private readonly store: Store,
    private readonly ca: CertAuthority,
    private readonly cluster: string,
    private readonly proxyHostPatterns: () => string[],
    private readonly audit: (event: AuditInput) => Promise<void>,
    private readonly now: () => number,
  ) {}

  /** Signs a user certificate for the identity's logins, for at most its roles' TTL; audited. */
  async certify(
    identity: Identity,
    publicKey: PublicKey,
    requestedTtlMs: number | undefined,
    remoteAddr: string,
    via?: string,
  ): Promise<SignedCertificate> {
    const ttlMs = Math.min(requestedTtlMs ?? identity.maxSessionTtlMs, identity.maxSessionTtlMs);
    const now = this.now();
    const principals = userPrincipals(identity.logins);
    const signed = this.ca.signUser({
      publicKey,
      user: identity.user,
      principals,
      ttlMs,
      permits: identity,
      now,
    });
    await this.audit({
      code: "cert.issue",
      user: identity.user,
      remoteAddr,
      fields: {
        principals,
        ttl_s: Math.round(ttlMs / 1000),
        key_fingerprint: fingerprint(publicKey),
        ...(via ? { via } : {}),
      },
    });
    return signed;
  }

  /** What a user receives with certificate `signed`: the host CA to trust, their logins. */
  async issued(
    identity: Identity,
    signed: Pick<SignedCertificate, "line" | "certificate">,
  ): Promise<IssuedCertificate> {
    return {
      cert: signed.line,
      hostCa: await this.knownHosts(),
      cluster: this.cluster,
      logins: identity.logins,
      validBefore: new Date(Number(signed.certificate.validBefore) * 1000),
      identity,
    };
  }

  /**
   * Signs the certificate a proxy logs in to a node with as `login`, ending
   * by `notAfter`, when the user's certificate (if they signed in with one)
   * ends, or their roles' TTL, whichever comes first.
   */
  signNodeLogin(
    identity: Identity,
    certificate: Certificate | undefined,
    login: string,
    publicKeyLine: string,
    notAfter: Date,
  ): string {
    if (
      !identity.logins.includes(login) || (certificate && !certificate.principals.includes(login))
    ) {
      throw new AccessDenied(`User "${identity.user}" may not log in as "${login}".`);
    }
    let publicKey;
    try {
      publicKey = parsePublicKeyLine(publicKeyLine).key;
    } catch (error) {
      throw new BadRequest(`Not an SSH public key: ${(error as Error).message}`);
    }
    const now = this.now();
    const certificateEnd = certificate ? Number(certificate.validBefore) * 1000 : Infinity;
    const ttlMs = Math.min(
      notAfter.getTime() - now,
      certificateEnd - now,
      identity.maxSessionTtlMs,
    );
    if (ttlMs <= 0) throw new Unauthenticated("Your certificate has expired; run postern login.");
    return this.ca.signUser({
      publicKey,
      user: identity.user,
      principals: [login],
      ttlMs,
      permits: identity,
      now,
    }).line;
  }

  /** Signs a proxy's host certificate; AccessDenied when a principal could be a node's name. */
  async signProxyHost(publicKeyLine: string, principals: string[]): Promise<string> {
    // A proxy's certificate must never vouch for a node: users would trust a
    // proxy (or a stolen proxy identity) posing as one.
    const nodes = new Set((await this.store.nodes.list()).map((node) => node.name));
    const node = principals.find((name) =>
      nodes.has(name) || name.endsWith(`.${this.cluster}`) || /[*?]/.test(name)
    );
    if (node !== undefined) {
      throw new AccessDenied(
        `A proxy's host certificate cannot name "${node}": it is a node's name.`,
      );
    }
    const signed = this.ca.signHost({
      publicKey: parsePublicKeyLine(publicKeyLine).key,
      hostId: `postern-proxy@${this.cluster}`,
      principals,
      ttlMs: PROXY_HOST_CERT_TTL_MS,
      now: this.now(),
    });
    return signed.line;
  }

  /** The `@cert-authority` known_hosts lines for every node and proxy. */
  async knownHosts(): Promise<string[]> {
    const nodes = (await this.store.nodes.list()).map((node) => node.name);
    // Every proxy's SSH address, as it registered: all present host certificates.
    const proxies = (await this.store.proxies.list())
      .flatMap((proxy) => {
        const addr = parseHostPort(proxy.sshPublicAddr);
        if (!addr) return [];
        return [addr.port === 22 ? addr.hostname : `[${addr.hostname}]:${addr.port}`];
      });
    return this.ca.knownHostsLines(this.cluster, [
      ...nodes,
      ...this.proxyHostPatterns(),
      ...proxies,
    ]);
  }
}
