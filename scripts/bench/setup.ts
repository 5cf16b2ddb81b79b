/**
 * The benchmark's world, all on loopback: a postern cluster (a real `postern
 * start` process and a real sshd node "saturn" trusting the postern user CA,
 * from tests/helpers/cluster.ts), a second sshd as the OpenSSH jump host
 * trusting the same CA, one user with a postern certificate usable by stock
 * `ssh`, an `ssh_config` that fixes the cipher on every hop, and a
 * `POSTERN_HOME` with that user's profile for `postern proxy ssh`.
 *
 * @module
 */

import { join } from "node:path";
import { type TestCluster, type TestIdentity, type TestUser } from "../../tests/helpers/cluster.ts";
import { startCluster } from "../../tests/helpers/cluster.ts";
import { MAIN } from "../../tests/helpers/postern.ts";
import { type Sshd, startSshd } from "../../tests/helpers/sshd.ts";
import { freePort } from "../../tests/helpers/ports.ts";
import { keyPaths, type Profile, saveKeys, saveProfile } from "../../lib/client/profile.ts";
import { pinCertificate } from "../../lib/client/proxy_client.ts";
import { parseCertificateLine } from "../../lib/sshcert/mod.ts";
import { shellQuote } from "./stats.ts";

/** The cipher every SSH hop of the benchmark uses unless told otherwise. */
export const CIPHER = "aes128-gcm@openssh.com";

/** A running benchmark environment; dispose it to stop everything. */
export interface BenchEnv extends AsyncDisposable {
  cluster: TestCluster;
  /** The OpenSSH jump host. */
  jump: Sshd;
  /** Temp folder of the benchmark (ssh config, POSTERN_HOME, data files). */
  dir: string;
  user: TestUser;
  identity: TestIdentity;
  /** Path of the ssh_config every `ssh` of the benchmark uses (`-F`). */
  sshConfig: string;
  /** A POSTERN_HOME where `user` is logged in to the proxy. */
  posternHome: string;
  /** The cluster's name (for web API paths). */
  clusterName: string;
  /** Name of the node in postern. */
  nodeName: string;
  /** `ssh -F <config>`, shell-quoted, to start command lines with. */
  ssh: string;
  /** `deno run -A <repo>/main.ts`, shell-quoted. */
  postern: string;
  /** The cipher of every SSH hop. */
  cipher: string;
  /** The proxy's Prometheus metrics (`metrics.listen_addr`). */
  metricsUrl: string;
}

/** Options of {@link setUpBench}. */
export interface BenchOptions {
  /** Where postern's recordings go instead of its data dir (a symlink in its place). */
  recordingsDir?: string;
}

/**
 * Starts the cluster, the jump host, a user with a certificate, and writes the
 * ssh config and POSTERN_HOME.
 *
 * @param log progress lines
 * @param cipher the cipher of every SSH hop
 * @param options where recordings go
 * @returns the environment
 * @example
 * ```ts
 * await using env = await setUpBench(console.log);
 * ```
 */
export async function setUpBench(
  log: (line: string) => void,
  cipher: string = CIPHER,
  options: BenchOptions = {},
): Promise<BenchEnv> {
  const dir = await Deno.makeTempDir({ prefix: "postern-bench-" });
  const cleanups: (() => Promise<unknown>)[] = [() => Deno.remove(dir, { recursive: true })];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    log("starting postern and the node sshd...");
    const metricsAddr = `127.0.0.1:${freePort()}`;
    // The fast tunnel path on, for (f); (e) keeps to TLS with POSTERN_TUNNEL=tls.
    const cluster = await startCluster({
      extraConfig: ["  tunnel_fast_path: true", "metrics:", `  listen_addr: ${metricsAddr}`]
        .join("\n"),
    });
    cleanups.push(() => cluster.stop());
    if (options.recordingsDir) await moveRecordings(cluster, options.recordingsDir);
    const userCa = (await cluster.admin("ca", "export", "--type", "user")).stdout.trim();
    const jump = await startSshd({ trustedUserCAKeys: userCa });
    cleanups.push(() => jump.stop());
    const user = await cluster.createUser("bench", { logins: ["root"] });
    const identity = await cluster.login(user);
    const ping = await cluster.api("GET", "/v1/webapi/ping");
    const clusterName = String(ping.body.cluster);

    const sshConfig = join(dir, "ssh_config");
    await Deno.writeTextFile(
      sshConfig,
      [
        "Host *",
        "  User root",
        `  IdentityFile ${identity.keyPath}`,
        `  CertificateFile ${identity.certPath}`,
        "  IdentitiesOnly yes",
        `  Ciphers ${cipher}`,
        "  Compression no",
        "  BatchMode yes",
        "  StrictHostKeyChecking no",
        "  UserKnownHostsFile /dev/null",
        "  LogLevel ERROR",
        "  ConnectTimeout 10",
        "",
      ].join("\n"),
    );
    const posternHome = join(dir, "tsh");
    await writeProfile(cluster, user, identity, clusterName, posternHome);
    return {
      cluster,
      jump,
      dir,
      user,
      identity,
      sshConfig,
      posternHome,
      clusterName,
      nodeName: "saturn",
      ssh: `ssh -F ${shellQuote(sshConfig)}`,
      postern: `${shellQuote(Deno.execPath())} run -A ${shellQuote(MAIN)}`,
      cipher,
      metricsUrl: `http://${metricsAddr}/metrics`,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Puts the cluster's recordings in `dir`: postern makes its recordings directory at the first session. */
async function moveRecordings(cluster: TestCluster, dir: string): Promise<void> {
  const recordings = join(cluster.postern.dataDir, "recordings");
  // Refused when it holds anything: nothing may be recorded yet.
  await Deno.remove(recordings).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.symlink(dir, recordings);
}

/**
 * Writes what `postern login` would leave in POSTERN_HOME (key, certificate,
 * profile, pinned proxy certificate) from a certificate already issued, so no
 * extra TOTP code is spent.
 */
async function writeProfile(
  cluster: TestCluster,
  user: TestUser,
  identity: TestIdentity,
  clusterName: string,
  posternHome: string,
): Promise<void> {
  const proxy = `127.0.0.1:${cluster.postern.webPort}`;
  const { certificate } = parseCertificateLine(identity.cert);
  const profile: Profile = {
    proxy,
    user: user.name,
    cluster: clusterName,
    sshProxy: `127.0.0.1:${cluster.postern.sshPort}`,
    logins: ["root"],
    roles: ["access"],
    validBefore: new Date(Number(certificate.validBefore) * 1000).toISOString(),
    pinned: true,
  };
  const saved = Deno.env.get("POSTERN_HOME");
  Deno.env.set("POSTERN_HOME", posternHome);
  try {
    await saveKeys(keyPaths(proxy, user.name), {
      privateKey: await Deno.readTextFile(identity.keyPath),
      publicKey: await Deno.readTextFile(`${identity.keyPath}.pub`),
      certificate: identity.cert,
    });
    await saveProfile(profile);
    const pem = await Deno.readTextFile(join(cluster.postern.dataDir, "tls", "cert.pem"));
    await pinCertificate(proxy, pem);
  } finally {
    if (saved === undefined) Deno.env.delete("POSTERN_HOME");
    else Deno.env.set("POSTERN_HOME", saved);
  }
}
