/**
 * `postern login`: trusts (or pins) the proxy's HTTPS certificate, asks for
 * password and TOTP code, generates an ed25519 key pair, gets it certified by
 * the proxy (`POST /v1/webapi/ssh/certs`) and stores key, certificate,
 * known_hosts lines and the profile under `~/.tsh`.
 *
 * With `--browser` (or `--auth <connector>` for single sign-on) the login is
 * approved in a browser instead: the CLI prints an address and a code, the
 * user approves there with their security key (after signing in through the
 * connector), and the CLI polls for its certificate. No FIDO library is
 * needed here.
 *
 * @module
 */

import { AccessDenied, BadRequest } from "../errors.ts";
import {
  encodeOpenSshPrivateKey,
  formatPublicKeyLine,
  generateEd25519KeyPair,
} from "../sshcert/mod.ts";
import {
  keyPaths,
  nodeHostKeyLines,
  type Profile,
  saveKeys,
  saveProfile,
  updateKnownHosts,
} from "./profile.ts";
import {
  loadTrust,
  normalizeProxy,
  pinCertificate,
  ProxyClient,
  type Trust,
} from "./proxy_client.ts";
import { fingerprintOf, peerCertificate } from "./proxy_certificate.ts";
import { askLine, askSecret, confirm } from "./prompt.ts";
import type { NodeView } from "../auth/service.ts";

/** Options of {@linkcode login}. */
export interface LoginOptions {
  proxy: string;
  user?: string;
  /** Requested certificate lifetime ("8h"); capped by the user's roles. */
  ttl?: string;
  /** Skip certificate verification (the certificate is used but not pinned). */
  insecure: boolean;
  password?: string;
  otp?: string;
  /** Approve the login in a browser instead of typing password and code. */
  browser?: boolean;
  /** Sign in through this single sign-on connector in the browser (implies `browser`). */
  connector?: string;
  /** Only print the address (to open on another machine); do not start a browser here. */
  headless?: boolean;
  /** Progress and warnings. */
  say(line: string): void;
}

/** How often the CLI asks whether its login was approved. */
const POLL_INTERVAL_MS = 1_000;

/** Decides how to trust the proxy, pinning its certificate after asking when needed. */
async function establishTrust(proxy: string, options: LoginOptions): Promise<Trust> {
  const saved = await loadTrust(proxy);
  if (saved.kind === "pinned") return saved;
  const { hostname, port } = normalizeProxy(proxy);
  const probe = new ProxyClient(proxy, { kind: "system" });
  try {
    await probe.request("GET", "/v1/webapi/ping");
    return { kind: "system" };
  } catch (error) {
    if (!(error instanceof AccessDenied)) throw error;
  } finally {
    probe.close();
  }
  const pem = await peerCertificate(hostname, port);
  const fingerprint = fingerprintOf(pem);
  if (options.insecure) {
    options.say(
      `WARNING: --insecure: not verifying the proxy's certificate (SHA256 ${fingerprint}).`,
    );
    return { kind: "pinned", pem };
  }
  options.say(`The proxy ${proxy} presents a certificate this system does not trust.`);
  options.say(`SHA256 fingerprint: ${fingerprint}`);
  options.say("Compare it with the fingerprint `postern start` printed on the proxy.");
  if (!(await confirm("Trust this certificate and remember it?"))) {
    throw new AccessDenied("Certificate not trusted; nothing was saved.");
  }
  await pinCertificate(proxy, pem);
  return { kind: "pinned", pem };
}

/** Logs in and stores everything; returns the saved profile. */
export async function login(options: LoginOptions): Promise<Profile> {
  const { addr: proxy } = normalizeProxy(options.proxy);
  const trust = await establishTrust(proxy, options);
  const client = new ProxyClient(proxy, trust);
  try {
    const ping = await client.request("GET", "/v1/webapi/ping");
    const pair = generateEd25519KeyPair();
    // Where sign-in needs a security key, only a browser can give it.
    const keysOnly = (ping.auth as { second_factor?: string } | undefined)?.second_factor ===
      "webauthn";
    if (keysOnly && !options.browser && !options.connector) {
      options.say("This proxy signs in with security keys: approve the login in a browser.");
    }
    const { user, issued, publicKey } = options.browser || options.connector || keysOnly
      ? await approvedInBrowser(client, proxy, pair, options)
      : await withPassword(client, pair, options);
    const paths = keyPaths(proxy, user);
    await saveKeys(paths, {
      privateKey: encodeOpenSshPrivateKey(pair.privateKey, `${user}@postern`),
      publicKey,
      certificate: String(issued.cert),
    });
    const sshProxy = String(ping.ssh_proxy);
    const profile: Profile = {
      proxy,
      user,
      cluster: String(issued.cluster),
      sshProxy,
      logins: issued.logins as string[],
      roles: (issued.roles as string[]) ?? [],
      validBefore: String(issued.valid_before),
      pinned: trust.kind === "pinned",
    };
    await saveProfile(profile);
    const hostCa = issued.host_ca as string[];
    await updateKnownHosts(proxy, "proxy", [
      ...hostCa,
      // Every proxy presents a host certificate: the CA line covers all of
      // them. Pin this one's plain key only where the CA line names no such host.
      ...(caCovers(hostCa, knownHostsName(sshProxy)) ? [] : [
        `${knownHostsName(sshProxy)} ${String(ping.ssh_host_key).split(" ").slice(0, 2).join(" ")}`,
      ]),
    ]);
    await updateKnownHosts(
      proxy,
      "nodes",
      nodeHostKeyLines(profile, await listVisibleNodes(client, profile, paths)),
    );
    return profile;
  } finally {
    client.close();
  }
}

type KeyPair = ReturnType<typeof generateEd25519KeyPair>;
type Issued = { user: string; issued: Record<string, unknown>; publicKey: string };

/** Asks for password and code and has the key certified with them. */
async function withPassword(
  client: ProxyClient,
  pair: KeyPair,
  options: LoginOptions,
): Promise<Issued> {
  const user = options.user ?? (await askLine("User: "));
  if (!user) throw new BadRequest("A user name is required (--user).");
  const password = options.password ?? (await askSecret(`Password for ${user}: `));
  const otp = options.otp ?? (await askLine("Authenticator code: "));
  const publicKey = formatPublicKeyLine(pair.publicKey, `${user}@postern`);
  const issued = await client.request("POST", "/v1/webapi/ssh/certs", {
    body: { user, password, otp_token: otp, pub_key: publicKey, ttl: options.ttl },
  });
  return { user, issued, publicKey };
}

/**
 * Registers the key for a login approved in a browser, prints where to
 * approve it, and waits for the certificate.
 */
async function approvedInBrowser(
  client: ProxyClient,
  proxy: string,
  pair: KeyPair,
  options: LoginOptions,
): Promise<Issued> {
  const started = await client.request("POST", "/v1/webapi/cli-logins", {
    body: { pub_key: formatPublicKeyLine(pair.publicKey, "postern"), ttl: options.ttl },
  });
  const approvePath = String(started.approve_path);
  const path = options.connector
    ? `/v1/webapi/oidc/login/${encodeURIComponent(options.connector)}?${new URLSearchParams({
      next: approvePath,
    })}`
    : approvePath;
  const url = `https://${proxy}${path}`;
  options.say(`To log in, open this address in a browser and approve code ${started.code}:`);
  options.say(`  ${url}`);
  if (!options.headless) openBrowser(url);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    const found = await client.request(
      "GET",
      `/v1/webapi/cli-logins/${encodeURIComponent(String(started.request_id))}`,
    );
    if (found.status === "approved") {
      const user = String(found.user);
      return {
        user,
        issued: found,
        publicKey: formatPublicKeyLine(pair.publicKey, `${user}@postern`),
      };
    }
  }
}

/** Starts the desktop's browser on `url` when there is one; the address is printed anyway. */
function openBrowser(url: string): void {
  const opener = Deno.build.os === "darwin" ? "open" : "xdg-open";
  try {
    new Deno.Command(opener, { args: [url], stdin: "null", stdout: "null", stderr: "null" })
      .spawn().status.catch(() => {});
  } catch {
    // No browser here (a server, a container): the printed address is for another machine.
  }
}

/** Whether an `@cert-authority` line lists `host` (as known_hosts writes it) among its hosts. */
function caCovers(caLines: string[], host: string): boolean {
  return caLines.some((line) => line.split(" ")[1]?.split(",").includes(host));
}

/** A known_hosts host pattern for "host:port". */
export function knownHostsName(addr: string): string {
  const { hostname, port } = normalizeProxy(addr);
  return port === 22 ? hostname : `[${hostname}]:${port}`;
}

/** The nodes the user may reach, asked with certificate authentication. */
export async function listVisibleNodes(
  client: ProxyClient,
  profile: Profile,
  paths: { privateKey: string; certificate: string },
): Promise<NodeView[]> {
  const keys = {
    privateKey: await Deno.readTextFile(paths.privateKey),
    certificate: (await Deno.readTextFile(paths.certificate)).trim(),
  };
  const listing = await client.signedRequest(
    "GET",
    `/v1/webapi/sites/${profile.cluster}/nodes`,
    keys,
  );
  return listing.items as NodeView[];
}
