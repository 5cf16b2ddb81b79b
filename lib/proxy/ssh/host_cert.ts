/**
 * Lets the ssh2 Server present a host certificate signed by the postern host
 * CA, so OpenSSH clients with the `@cert-authority` line never see a trust
 * prompt for the proxy.
 *
 * ssh2 1.17.0 has no host-certificate support. Two small adjustments make it
 * work, both version-guarded:
 * 1. A key object that is the plain ed25519 host key in every way except its
 *    type (`ssh-ed25519-cert-v01@openssh.com`) and public blob (the
 *    certificate), so the server offers and sends the certificate.
 * 2. Per connection, after the exchange hash is signed, the negotiated name
 *    written into the signature is set to `ssh-ed25519`: PROTOCOL.certkeys
 *    signatures use the plain algorithm, while ssh2 would write the
 *    certificate's name (OpenSSH refuses that).
 *
 * @module
 */

import ssh2 from "ssh2";
import { ssh2VersionMatches } from "../../net/ssh2_internals.ts";
import type { Connection, ParsedKey } from "ssh2";
import { parseCertificateLine } from "../../sshcert/mod.ts";

const CERT_ALGO = "ssh-ed25519-cert-v01@openssh.com";
const PLAIN_ALGO = "ssh-ed25519";

/** A host certificate ready to hand to the ssh2 Server, or undefined when unsupported. */
export function hostCertificateKey(
  privateKeyPem: string,
  certificateLine: string,
): ParsedKey | undefined {
  if (!ssh2VersionMatches) return undefined;
  const plain = ssh2.utils.parseKey(privateKeyPem);
  if (plain instanceof Error || Array.isArray(plain) || plain.type !== PLAIN_ALGO) return undefined;
  const { blob } = parseCertificateLine(certificateLine);
  const certBlob = Buffer.from(blob);
  return Object.create(plain, {
    type: { value: CERT_ALGO },
    getPublicSSH: { value: () => certBlob },
  });
}

interface KexInternals {
  _hostKeys?: Record<string, ParsedKey>;
  _kex?: { negotiated?: { serverHostKey?: string } };
}

/**
 * Per connection: signatures made with the certificate key name the plain
 * algorithm. Call from the Server's connection handler (before the key
 * exchange completes).
 */
export function presentHostCertificate(connection: Connection): void {
  const protocol = (connection as unknown as { _protocol?: KexInternals })._protocol;
  const certKey = protocol?._hostKeys?.[CERT_ALGO];
  if (!protocol || !certKey) return;
  const perConnection = Object.create(certKey, {
    sign: {
      value(data: Buffer, algo?: string) {
        const signature = certKey.sign(data, algo);
        const negotiated = protocol._kex?.negotiated;
        if (negotiated?.serverHostKey === CERT_ALGO) negotiated.serverHostKey = PLAIN_ALGO;
        return signature;
      },
    },
  });
  protocol._hostKeys = { ...protocol._hostKeys, [CERT_ALGO]: perConnection };
}
