/**
 * Tunnel tickets: the fast path of `postern proxy ssh`
 * (lib/net/tunnel_protocol.ts). A user authorised for a node over TLS gets a
 * ticket, then presents it on a plain TCP connection to the proxy's HTTPS
 * port, possibly through another proxy of the cluster.
 *
 * A ticket is sealed (AES-256-GCM) under a key every auth server derives alike
 * from the user CA, so any of them opens it and nobody else can read or forge
 * it: on the wire it is opaque, and the target's name stays hidden. It names
 * the user, login and node, the client address it was issued to, and expires
 * after {@link TICKET_TTL_MS}; its nonce is spent in the store's single-use
 * nonces on redemption, so a ticket works once across every proxy and auth
 * server.
 *
 * @module
 */

import { AccessDenied } from "../errors.ts";

/** How long a ticket may wait to be redeemed. */
export const TICKET_TTL_MS = 30_000;

/** What a ticket grants: one connection of `user` as `login` to `node`, from `source`. */
export interface TicketGrant {
  user: string;
  login: string;
  /** The node's registered name. */
  node: string;
  /** The client address the ticket was issued to (as the proxy saw it). */
  source: string;
}

/** The sealed fields: the grant, its deadline and its single-use nonce. */
interface Sealed extends TicketGrant {
  expires: number;
  nonce: string;
}

const IV_BYTES = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Issues and opens tunnel tickets with one key. */
export class TunnelTickets {
  private constructor(
    private readonly key: CryptoKey,
    private readonly useNonce: (nonce: string, expires: number) => Promise<boolean>,
    private readonly now: () => number,
  ) {}

  /**
   * @param secret key material every auth server shares (see CertAuthority.deriveSecret)
   * @param useNonce records a nonce as spent; false when it was spent already
   * @param now the clock
   */
  static async create(
    secret: Uint8Array<ArrayBuffer>,
    useNonce: (nonce: string, expires: number) => Promise<boolean>,
    now: () => number,
  ): Promise<TunnelTickets> {
    const key = await crypto.subtle.importKey("raw", secret, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    return new TunnelTickets(key, useNonce, now);
  }

  /** A ticket for `grant`, valid once for {@link TICKET_TTL_MS}. */
  async issue(grant: TicketGrant): Promise<string> {
    const sealed: Sealed = {
      ...grant,
      expires: this.now() + TICKET_TTL_MS,
      nonce: crypto.getRandomValues(new Uint8Array(16)).toBase64({ alphabet: "base64url" }),
    };
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const body = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv },
        this.key,
        encoder.encode(JSON.stringify(sealed)),
      ),
    );
    const ticket = new Uint8Array(IV_BYTES + body.length);
    ticket.set(iv);
    ticket.set(body, IV_BYTES);
    return ticket.toBase64({ alphabet: "base64url", omitPadding: true });
  }

  /**
   * Opens a ticket presented from `source` and spends it.
   *
   * @returns what it grants
   * @throws AccessDenied for a ticket that is malformed, forged, expired,
   *   spent, or presented from another address
   */
  async redeem(ticket: string, source: string): Promise<TicketGrant> {
    const sealed = await this.#open(ticket);
    if (sealed.expires <= this.now()) {
      throw new AccessDenied("The tunnel ticket has expired; run the command again.");
    }
    if (sealed.source !== source) {
      throw new AccessDenied(
        "The tunnel ticket was issued to another address; it is valid only from the address that asked for it.",
      );
    }
    if (!(await this.useNonce(`tunnel-ticket:${sealed.nonce}`, sealed.expires))) {
      throw new AccessDenied("The tunnel ticket was used already; each ticket opens one tunnel.");
    }
    return { user: sealed.user, login: sealed.login, node: sealed.node, source: sealed.source };
  }

  async #open(ticket: string): Promise<Sealed> {
    const invalid = () => new AccessDenied("The tunnel ticket is not valid.");
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = Uint8Array.fromBase64(ticket, { alphabet: "base64url" });
    } catch {
      throw invalid();
    }
    if (bytes.length <= IV_BYTES) throw invalid();
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES) },
        this.key,
        bytes.subarray(IV_BYTES),
      );
    } catch {
      throw invalid();
    }
    return JSON.parse(decoder.decode(plain)) as Sealed;
  }
}
