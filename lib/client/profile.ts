/**
 * The CLI's files under `~/.tsh` (`POSTERN_HOME` overrides): per proxy and
 * user a key pair and certificate in `keys/<proxy>/`, the proxy's pinned
 * HTTPS certificate, `known_hosts` with the host CA and node keys, and the
 * current profile. Every file is written atomically (temp + rename), keys
 * with mode 0600, so an interrupted login never leaves half a key.
 *
 * @module
 */

import { join } from "node:path";
import { clientHome, ensurePrivateDir, writeFileAtomic } from "../config/paths.ts";
import { Unauthenticated } from "../errors.ts";
import { parseCertificateLine } from "../sshcert/certificate.ts";
import type { NodeView } from "../auth/service.ts";

/** What `postern login` remembers about a proxy. */
export interface Profile {
  /** "host:port" of the proxy's HTTPS listener, as the user gave it. */
  proxy: string;
  user: string;
  cluster: string;
  /** "host:port" of the proxy's SSH listener. */
  sshProxy: string;
  logins: string[];
  roles: string[];
  /** ISO time the certificate stops being valid. */
  validBefore: string;
  /** True when the proxy's certificate is pinned (self-signed) rather than trusted by the system. */
  pinned: boolean;
}

/** Paths of one proxy+user's files. */
export interface KeyPaths {
  dir: string;
  privateKey: string;
  publicKey: string;
  certificate: string;
}

/** A safe directory name for a proxy address. */
function proxyDirName(proxy: string): string {
  return proxy.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** The CLI home (`~/.tsh`). */
export function home(): string {
  return clientHome();
}

/** Paths of the key files of `user` at `proxy`. */
export function keyPaths(proxy: string, user: string): KeyPaths {
  const dir = join(home(), "keys", proxyDirName(proxy));
  const privateKey = join(dir, user);
  return { dir, privateKey, publicKey: `${privateKey}.pub`, certificate: `${privateKey}-cert.pub` };
}

/** Where a proxy's pinned HTTPS certificate is kept. */
export function pinnedCertPath(proxy: string): string {
  return join(home(), "keys", proxyDirName(proxy), "proxy-cert.pem");
}

/** `~/.tsh/known_hosts`. */
export function knownHostsPath(): string {
  return join(home(), "known_hosts");
}

const PROFILE_FILE = "current-profile.json";

/** Writes the key pair and certificate (0600 / 0644). */
export async function saveKeys(
  paths: KeyPaths,
  keys: { privateKey: string; publicKey: string; certificate: string },
): Promise<void> {
  await ensurePrivateDir(home());
  await ensurePrivateDir(paths.dir);
  await writeFileAtomic(paths.privateKey, keys.privateKey, 0o600);
  await writeFileAtomic(paths.publicKey, keys.publicKey.trim() + "\n", 0o644);
  await writeFileAtomic(paths.certificate, keys.certificate.trim() + "\n", 0o644);
}

/** Saves the current profile. */
export async function saveProfile(profile: Profile): Promise<void> {
  await ensurePrivateDir(home());
  await writeFileAtomic(join(home(), PROFILE_FILE), JSON.stringify(profile, null, 2) + "\n", 0o600);
}

/** The current profile; Unauthenticated telling to log in when there is none. */
export async function loadProfile(): Promise<Profile> {
  try {
    return JSON.parse(await Deno.readTextFile(join(home(), PROFILE_FILE))) as Profile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Unauthenticated(
        "Not logged in; run `postern login --proxy <host:3080> --user <name>`.",
      );
    }
    throw new Unauthenticated(`Cannot read the profile in ${home()}: ${(error as Error).message}`);
  }
}

/** Removes the current profile file. */
export async function removeProfile(): Promise<void> {
  await Deno.remove(join(home(), PROFILE_FILE)).catch(() => {});
}

/** The loaded key material of the current profile. */
export interface LoadedKeys {
  profile: Profile;
  paths: KeyPaths;
  privateKey: string;
  certificate: string;
  validBefore: Date;
}

/**
 * Loads the current profile's key and certificate; with `requireValid`, an
 * expired certificate is an error that says when it expired.
 */
export async function loadKeys(requireValid = true): Promise<LoadedKeys> {
  const profile = await loadProfile();
  const paths = keyPaths(profile.proxy, profile.user);
  let privateKey: string;
  let certificate: string;
  try {
    privateKey = await Deno.readTextFile(paths.privateKey);
    certificate = (await Deno.readTextFile(paths.certificate)).trim();
  } catch {
    throw new Unauthenticated(`No key for ${profile.user} at ${profile.proxy}; run postern login.`);
  }
  const { certificate: parsed } = parseCertificateLine(certificate);
  const validBefore = new Date(Math.min(Number(parsed.validBefore) * 1000, 8.64e15));
  if (requireValid && validBefore.getTime() <= Date.now()) {
    throw new Unauthenticated(
      `certificate expired at ${validBefore.toISOString()}; run postern login`,
    );
  }
  return { profile, paths, privateKey, certificate, validBefore };
}

/** Which of a proxy's known_hosts lines: its own key and host CA, or its nodes' keys. */
export type KnownHostsGroup = "proxy" | "nodes";

/**
 * Replaces one group of a proxy's lines in `~/.tsh/known_hosts` (each marked
 * with a trailing `postern-<group>:<proxy>` comment) with `lines`.
 */
export async function updateKnownHosts(
  proxy: string,
  group: KnownHostsGroup,
  lines: string[],
): Promise<void> {
  const path = knownHostsPath();
  const marker = ` postern-${group}:${proxy}`;
  let existing: string[] = [];
  try {
    existing = (await Deno.readTextFile(path)).split("\n").filter((l) => l && !l.endsWith(marker));
  } catch { /* first login */ }
  await ensurePrivateDir(home());
  await writeFileAtomic(
    path,
    [...existing, ...lines.map((l) => l + marker)].join("\n") + "\n",
    0o644,
  );
}

/** known_hosts lines for nodes, under the names `postern config` writes Host patterns for. */
export function nodeHostKeyLines(profile: Profile, nodes: NodeView[]): string[] {
  return nodes
    .filter((node) => node.hostKey)
    .map((node) =>
      `${node.name},${node.name}.${profile.cluster} ${
        node.hostKey!.split(" ").slice(0, 2).join(" ")
      }`
    );
}
