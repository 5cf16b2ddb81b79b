/**
 * The SSH algorithms postern offers, on its gateway and toward nodes: what
 * `ssh-audit` passes without a warning, in postern's order of preference.
 * ssh2's defaults also offer NIST curves, SHA-1 and encrypt-and-MAC modes,
 * and compression before authentication.
 *
 * - key exchange: curve25519, then the 4096/8192-bit MODP groups;
 * - ciphers: AES-GCM first (what the benchmarks use, hardware-accelerated),
 *   chacha20-poly1305, AES-CTR;
 * - MACs (for CTR only): encrypt-then-MAC SHA-2;
 * - compression: none, or zlib only after authentication.
 *
 * Every node Debian 12's sshd (OpenSSH 9.2) or later runs has all of these.
 * ssh2's `kex-strict-*-v00@openssh.com` (the Terrapin mitigation) is added by
 * ssh2 itself; ssh-audit 2.5 does not know it yet.
 *
 * @module
 */

import type ssh2 from "ssh2";
import { BadRequest } from "../errors.ts";
import { ssh2SupportedAlgorithms } from "./ssh2_internals.ts";

const KEX = [
  "curve25519-sha256",
  "curve25519-sha256@libssh.org",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group18-sha512",
];

const CIPHERS = [
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "chacha20-poly1305@openssh.com",
  "aes256-ctr",
  "aes192-ctr",
  "aes128-ctr",
];

const MACS = ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"];

const COMPRESSION = ["none", "zlib@openssh.com"];

/** What the gateway offers clients. Its host keys are ed25519 (with a certificate). */
export const GATEWAY_ALGORITHMS = {
  kex: KEX,
  cipher: CIPHERS,
  hmac: MACS,
  compress: COMPRESSION,
  serverHostKey: ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"],
} as unknown as ssh2.Algorithms;

/**
 * What the proxy offers nodes. Host key types stay ssh2's (a node's key is
 * pinned or certified, whatever its type).
 */
export const NODE_ALGORITHMS = {
  kex: KEX,
  cipher: CIPHERS,
  hmac: MACS,
  compress: COMPRESSION,
} as unknown as ssh2.Algorithms;

/** A site's own lists (`proxy.ssh_algorithms`); an empty list keeps postern's. */
export interface SiteAlgorithms {
  kex: string[];
  ciphers: string[];
  macs: string[];
}

/**
 * The gateway's and the node client's lists with a site's choices in place
 * of postern's, each name checked against what ssh2 implements.
 *
 * @throws BadRequest naming an algorithm ssh2 does not implement, and those it does
 */
export function siteAlgorithms(site: SiteAlgorithms): {
  gateway: ssh2.Algorithms;
  node: ssh2.Algorithms;
} {
  const supported = ssh2SupportedAlgorithms();
  const pick = (field: keyof SiteAlgorithms, kind: keyof typeof supported, ours: string[]) => {
    for (const name of site[field]) {
      if (!supported[kind].includes(name)) {
        throw new BadRequest(
          `proxy.ssh_algorithms.${field}: "${name}" is not one postern's SSH library implements; choose from ${
            supported[kind].join(", ")
          }`,
        );
      }
    }
    return site[field].length > 0 ? site[field] : ours;
  };
  const chosen = {
    kex: pick("kex", "kex", KEX),
    cipher: pick("ciphers", "cipher", CIPHERS),
    hmac: pick("macs", "hmac", MACS),
  };
  return {
    gateway: { ...GATEWAY_ALGORITHMS, ...chosen } as unknown as ssh2.Algorithms,
    node: { ...NODE_ALGORITHMS, ...chosen } as unknown as ssh2.Algorithms,
  };
}
