/**
 * The proxy's own SSH host key: generated on first launch into the data dir,
 * reused on every restart so clients' known_hosts entries stay valid.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../../config/paths.ts";
import {
  encodeOpenSshPrivateKey,
  formatPublicKeyLine,
  generateEd25519KeyPair,
} from "../../sshcert/mod.ts";
import type { Logger } from "../../log.ts";

/** The host key in OpenSSH formats. */
export interface HostKey {
  /** OpenSSH private key PEM (what ssh2's Server takes). */
  privateKey: string;
  /** authorized_keys-form public key line, e.g. "ssh-ed25519 AAAA...". */
  publicKey: string;
  /** Path of the private key file. */
  path: string;
}

/** Loads `<dataDir>/ssh/host_ed25519_key`, generating it (0600) when absent. */
export async function loadOrCreateHostKey(dataDir: string, log: Logger): Promise<HostKey> {
  const dir = join(dataDir, "ssh");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, "host_ed25519_key");
  try {
    const privateKey = await Deno.readTextFile(path);
    const publicKey = (await Deno.readTextFile(`${path}.pub`)).trim();
    return { privateKey, publicKey, path };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  // lib/sshcert writes the key: ssh2's generateKeyPairSync under Deno makes a
  // malformed key about 4 times in 3,000, which would fail the first start.
  const pair = generateEd25519KeyPair();
  const privateKey = encodeOpenSshPrivateKey(pair.privateKey, "postern-proxy");
  const publicKey = formatPublicKeyLine(pair.publicKey, "postern-proxy");
  await writeFileAtomic(path, privateKey, 0o600);
  await writeFileAtomic(`${path}.pub`, publicKey + "\n", 0o644);
  log.info("generated SSH host key", { path });
  return { privateKey, publicKey, path };
}
