/**
 * HTTPS to the proxy with trust on first use: a certificate the system trusts
 * is used as is; a self-signed one is shown (SHA-256 fingerprint) and pinned
 * on first login, and a later different certificate is refused loudly, like
 * OpenSSH's changed-host-key warning.
 *
 * Read-only API calls after login are authenticated by the user's SSH
 * certificate: the request line and a timestamp are signed with the key.
 *
 * @module
 */

import { CERT_AUTH_PREFIX, certRequestData } from "../net/cert_request.ts";
import { AccessDenied, BadRequest, PosternError, Unavailable } from "../errors.ts";
import { parseHostPort } from "../config/schema.ts";
import { ensurePrivateDir, writeFileAtomic } from "../config/paths.ts";
import { dirname } from "node:path";
import { pinnedCertPath } from "./profile.ts";
import { parseCertificateLine } from "../sshcert/certificate.ts";
import { encodeBase64 } from "../sshcert/wire.ts";
import { webCryptoSigner } from "../sshcert/webcrypto_signer.ts";

/** How a proxy's certificate is trusted: by the system's roots, or pinned. */
export type Trust =
  | { kind: "system" }
  | { kind: "pinned"; pem: string };

/** Normalises "host", "host:port" to "host:port" (default 3080). */
export function normalizeProxy(proxy: string): { addr: string; hostname: string; port: number } {
  const withPort = /:\d+$/.test(proxy) && !proxy.endsWith("]") ? proxy : `${proxy}:3080`;
  const parsed = parseHostPort(withPort);
  if (!parsed || parsed.hostname === "0.0.0.0") {
    throw new BadRequest(`--proxy "${proxy}" is not host[:port].`);
  }
  return { addr: withPort, ...parsed };
}

function isCertificateError(error: unknown): boolean {
  const text = String((error as Error)?.message ?? error) + String((error as Error)?.cause ?? "");
  return /certificate|UnknownIssuer|InvalidCertificate|NotValidForName|self.signed/i.test(text);
}

/** Loads the trust for a proxy: the pinned certificate if there is one. */
export async function loadTrust(proxy: string): Promise<Trust> {
  try {
    return { kind: "pinned", pem: await Deno.readTextFile(pinnedCertPath(proxy)) };
  } catch {
    return { kind: "system" };
  }
}

/** Saves a pinned certificate for a proxy. */
export async function pinCertificate(proxy: string, pem: string): Promise<void> {
  const path = pinnedCertPath(proxy);
  await ensurePrivateDir(dirname(path));
  await writeFileAtomic(path, pem, 0o644);
}

/** A client for one proxy. */
export class ProxyClient {
  readonly base: string;
  #http: Deno.HttpClient | undefined;

  constructor(readonly proxy: string, readonly trust: Trust) {
    const { hostname, port } = normalizeProxy(proxy);
    this.base = `https://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  }

  #client(): Deno.HttpClient | undefined {
    if (this.trust.kind === "pinned") {
      this.#http ??= Deno.createHttpClient({ caCerts: [this.trust.pem] });
    }
    return this.#http;
  }

  /** Closes the HTTP client. */
  close(): void {
    this.#http?.close();
  }

  /** Sends a request and returns the parsed JSON body; API errors become PosternErrors. */
  async request(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Record<string, unknown>> {
    const response = await this.raw(method, path, options);
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw new Unavailable(
        `The proxy answered ${method} ${path} with something that is not JSON (HTTP ${response.status}).`,
      );
    }
    if (!response.ok) {
      const error = (body.error ?? {}) as { kind?: string; message?: string };
      const message = error.message ?? `HTTP ${response.status}`;
      throw new PosternError((error.kind as PosternError["kind"]) ?? "unavailable", message);
    }
    return body;
  }

  /** Sends a request and returns the raw response. */
  async raw(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    try {
      return await fetch(this.base + path, {
        method,
        client: this.#client(),
        headers: { "content-type": "application/json", ...options.headers },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch (error) {
      if (isCertificateError(error)) await this.#explainCertificateFailure(error);
      throw new Unavailable(
        `Cannot reach the proxy at ${this.proxy}: ${(error as Error).message}.`,
        {
          cause: error,
        },
      );
    }
  }

  async #explainCertificateFailure(error: unknown): Promise<never> {
    // node:tls and node:crypto load only here: requests that succeed do without them.
    const { fingerprintOf, peerCertificate } = await import("./proxy_certificate.ts");
    const { hostname, port } = normalizeProxy(this.proxy);
    const presented = await peerCertificate(hostname, port);
    const got = fingerprintOf(presented);
    if (this.trust.kind === "pinned") {
      const expected = fingerprintOf(this.trust.pem);
      if (expected !== got) {
        throw new AccessDenied(
          [
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
            "@    WARNING: THE PROXY'S HTTPS CERTIFICATE HAS CHANGED!   @",
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
            `Someone could be intercepting your connection to ${this.proxy}.`,
            `Pinned fingerprint:    SHA256 ${expected}`,
            `Presented fingerprint: SHA256 ${got}`,
            `If the proxy's certificate was changed on purpose, remove ${
              pinnedCertPath(this.proxy)
            }`,
            "and run postern login again.",
          ].join("\n"),
        );
      }
      throw new AccessDenied(
        `The proxy's certificate matches the pinned one but is not valid for "${hostname}": ${
          (error as Error).message
        }`,
      );
    }
    throw new AccessDenied(
      `The proxy's certificate (SHA256 ${got}) is not trusted by this system; ` +
        "run postern login to review and pin it.",
    );
  }

  /** Signs a request with the user's certificate key (read-only calls after login). */
  async signedRequest(
    method: string,
    path: string,
    keys: { privateKey: string; certificate: string },
  ) {
    return await this.request(method, path, {
      headers: await certAuthHeaders(method, path, keys),
    });
  }
}

/**
 * Headers that authenticate a request with an SSH certificate: the
 * certificate, a timestamp, a random nonce and a signature over them with the
 * method and path ({@linkcode certRequestData}). The proxy accepts each header
 * once, within two minutes of the timestamp.
 */
export async function certAuthHeaders(
  method: string,
  path: string,
  keys: { privateKey: string; certificate: string },
): Promise<Record<string, string>> {
  const { blob } = parseCertificateLine(keys.certificate);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
  const data = certRequestData(method, path, timestamp, nonce);
  const signature = await (await webCryptoSigner(keys.privateKey))(data);
  return {
    authorization: `${CERT_AUTH_PREFIX}${encodeBase64(blob)}.${timestamp}.${nonce}.${
      encodeBase64(signature)
    }`,
  };
}
