/**
 * The user and host certificate authorities: created on first start, kept in
 * the store, and used to sign short-lived user certificates and host
 * certificates. Private CA keys never leave this module.
 *
 * @module
 */

import { createPrivateKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto";
import {
  type CertOptions,
  encodeOpenSshPrivateKey,
  formatPublicKeyLine,
  generateEd25519KeyPair,
  parseOpenSshPrivateKey,
  parsePublicKeyLine,
  type PublicKey,
  signCertificate,
  signData,
  type SignedCertificate,
} from "../sshcert/mod.ts";
import type { CaKind, Store } from "../store/store.ts";

/** What a user certificate permits beyond a terminal, as the user's roles decide. */
export interface CertPermits {
  portForwarding: boolean;
  agentForwarding: boolean;
}

/**
 * Extensions of user certificates postern issues (no X11, no user rc);
 * `permit-agent-forwarding` and `permit-port-forwarding` only for users whose
 * roles allow them.
 */
export function userCertExtensions(permits: CertPermits): CertOptions {
  return {
    ...(permits.agentForwarding ? { "permit-agent-forwarding": true } : {}),
    ...(permits.portForwarding ? { "permit-port-forwarding": true } : {}),
    "permit-pty": true,
  };
}

/** Placeholder principal for users whose roles allow no login (never a valid Unix name). */
const NO_LOGIN_PRINCIPAL = "-postern-no-login";

/**
 * The principals of a user certificate for `logins`: a certificate needs at
 * least one, so a user whose roles allow no login gets a placeholder no node
 * accepts.
 */
export function userPrincipals(logins: string[]): string[] {
  return logins.length ? logins : [NO_LOGIN_PRINCIPAL];
}

/** Certificates start this far in the past to tolerate clock differences. */
const BACKDATE_MS = 60_000;

/** One loaded CA. */
interface LoadedCa {
  privateKey: KeyObject;
  publicKey: PublicKey;
  /** authorized_keys-form line. */
  line: string;
}

/** An ephemeral key with a certificate, whose private half stays in memory. */
export interface EphemeralCredential {
  certificate: SignedCertificate;
  /** Signs data with the ephemeral key (raw ed25519 signature). */
  sign(data: Uint8Array): Uint8Array;
}

/** The two CAs of a cluster. */
export class CertAuthority {
  private constructor(private readonly user: LoadedCa, private readonly host: LoadedCa) {}

  /** Loads both CAs from the store, creating them on first start. */
  static async open(store: Store, now = Date.now()): Promise<CertAuthority> {
    const load = async (kind: CaKind): Promise<LoadedCa> => {
      let record = await store.cas.get(kind);
      if (!record) {
        const pair = generateEd25519KeyPair();
        record = await store.cas.putIfAbsent({
          kind,
          privateKey: encodeOpenSshPrivateKey(pair.privateKey, `postern-${kind}-ca`),
          publicKey: formatPublicKeyLine(pair.publicKey, `postern-${kind}-ca`),
          created: now,
        });
      }
      const privateKey = record.privateKey.includes("OPENSSH PRIVATE KEY")
        ? parseOpenSshPrivateKey(record.privateKey).privateKey
        : createPrivateKey(record.privateKey);
      return {
        privateKey,
        publicKey: parsePublicKeyLine(record.publicKey).key,
        line: record.publicKey,
      };
    };
    return new CertAuthority(await load("user"), await load("host"));
  }

  /** The user CA's public key line (for sshd's TrustedUserCAKeys). */
  get userCaLine(): string {
    return this.user.line;
  }

  /** The user CA's public key. */
  get userCaKey(): PublicKey {
    return this.user.publicKey;
  }

  /** The host CA's public key line. */
  get hostCaLine(): string {
    return this.host.line;
  }

  /** The host CA's public key. */
  get hostCaKey(): PublicKey {
    return this.host.publicKey;
  }

  /**
   * `@cert-authority` known_hosts lines: the cluster's nodes (`*.<cluster>`)
   * and the other host patterns given (node names, the proxy's SSH address
   * `[host]:port`, whose host certificate the proxy presents).
   */
  knownHostsLines(cluster: string, patterns: string[] = []): string[] {
    const hosts = [...new Set([`*.${cluster}`, ...patterns])].join(",");
    return [`@cert-authority ${hosts} ${this.host.line.split(" ").slice(0, 2).join(" ")}`];
  }

  /** Signs a user certificate for `publicKey`. */
  signUser(options: {
    publicKey: PublicKey | Uint8Array;
    user: string;
    principals: string[];
    ttlMs: number;
    /** What the certificate permits (forwarding). */
    permits: CertPermits;
    now?: number;
  }): SignedCertificate {
    const extensions = userCertExtensions(options.permits);
    return this.#sign(this.user, "user", options.user, options, extensions);
  }

  /** Signs a host certificate for a node (principals: its names and addresses). */
  signHost(options: {
    publicKey: PublicKey | Uint8Array;
    hostId: string;
    principals: string[];
    ttlMs: number;
    now?: number;
  }): SignedCertificate {
    return this.#sign(this.host, "host", options.hostId, options, {});
  }

  #sign(
    ca: LoadedCa,
    type: "user" | "host",
    keyId: string,
    options: {
      publicKey: PublicKey | Uint8Array;
      principals: string[];
      ttlMs: number;
      now?: number;
    },
    extensions: CertOptions,
  ): SignedCertificate {
    const now = options.now ?? Date.now();
    return signCertificate({
      caPrivateKey: ca.privateKey,
      publicKey: options.publicKey,
      type,
      keyId,
      principals: options.principals,
      validAfter: new Date(now - BACKDATE_MS),
      validBefore: new Date(now + options.ttlMs),
      extensions,
      serial: randomSerial(),
      comment: keyId,
    });
  }

  /**
   * A 32-byte secret every auth server of the cluster derives alike from the
   * user CA's private key (HKDF-SHA256, `purpose` as the info), for keys that
   * must be shared across auth servers without being stored; it reveals
   * nothing about the CA key.
   */
  deriveSecret(purpose: string): Uint8Array<ArrayBuffer> {
    const material = this.user.privateKey.export({ format: "der", type: "pkcs8" });
    return new Uint8Array(hkdfSync("sha256", material, new Uint8Array(0), purpose, 32));
  }

  /**
   * A fresh key pair with a user certificate: what the proxy logs in to a node
   * with on a user's behalf. The private key exists only inside `sign`.
   */
  mintEphemeral(
    options: {
      user: string;
      principals: string[];
      ttlMs: number;
      permits: CertPermits;
      now?: number;
    },
  ): EphemeralCredential {
    const pair = generateEd25519KeyPair();
    const certificate = this.signUser({ ...options, publicKey: pair.publicKeyBlob });
    return { certificate, sign: (data) => rawSignature(pair.privateKey, data) };
  }
}

/** The raw signature bytes (not the SSH blob) of ed25519 `key` over `data`. */
export function rawSignature(key: KeyObject, data: Uint8Array): Uint8Array {
  const blob = signData(key, data);
  // SSH signature blob: string algorithm, string signature; the raw part is last.
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const algoLength = view.getUint32(0);
  return blob.subarray(4 + algoLength + 4);
}

function randomSerial(): bigint {
  return randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
}
