/**
 * Keys for test servers.
 *
 * @module
 */

import { encodeOpenSshPrivateKey, generateEd25519KeyPair } from "../../lib/sshcert/mod.ts";

/**
 * A fresh ed25519 host key in OpenSSH format, for an ssh2 Server. (ssh2's own
 * `utils.generateKeyPairSync` under Deno makes a malformed key about 4 times
 * in 3,000, which made tests fail at random.)
 */
export function ed25519HostKeyPem(): string {
  return encodeOpenSshPrivateKey(generateEd25519KeyPair().privateKey, "postern-test-host");
}
