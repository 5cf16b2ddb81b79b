/**
 * The proxy's SSH client side: log in to nodes with OpenSSH user certificates
 * over ssh2, with pinned host keys and typed errors.
 *
 * @example
 * ```ts
 * import { connectSsh, pinnedHostKey } from "./lib/sshclient/mod.ts";
 * const client = await connectSsh({ host, port, username: "root", certificate, privateKey,
 *   hostKeyVerifier: pinnedHostKey(hostKeyLine) });
 * ```
 *
 * @module
 */

export { connectSsh, type ConnectSshOptions } from "./connect.ts";
export {
  certAuthKey,
  type CertAuthKeyOptions,
  ED25519_CERT_ALGO,
  installCertAuth,
  type Signer,
} from "./cert_auth.ts";
export {
  fingerprintSha256,
  type HostKeyVerifier,
  pinnedHostKey,
  publicKeyBlob,
} from "./host_key.ts";
