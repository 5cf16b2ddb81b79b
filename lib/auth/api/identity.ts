/**
 * A process's identity in the cluster (a proxy's, or an admin machine's):
 * obtained by redeeming a join token after checking the auth server's CA
 * against a pin, kept as PEM files (key 0600), and, for proxies, renewed at
 * half of its lifetime.
 *
 * @module
 */

import https from "node:https";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { writeFileAtomic } from "../../config/paths.ts";
import { AccessDenied, BadRequest, Unavailable } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { caPin, generateTlsKeyPair } from "../../tls/cluster_ca.ts";
import type { IssuedIdentity, JoinRequest } from "../join.ts";
import { type ApiIdentity, type AuthApiClient, resultOf } from "./client.ts";
import { API_PREFIX, encodeWire } from "./wire.ts";

/** An identity with what its certificate says. */
export interface LoadedIdentity extends ApiIdentity {
  expires: Date;
}

/** Where an identity lives: `identity.pem` holds certificate, CA and key. */
export function identityFile(dir: string): string {
  return join(dir, "identity.pem");
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g;

/** Reads an identity file; null when there is none. @throws BadRequest when unreadable */
export async function readIdentity(path: string): Promise<LoadedIdentity | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1], pem: m[0] }));
  const certs = blocks.filter((b) => b.type === "CERTIFICATE").map((b) => b.pem);
  const key = blocks.find((b) => b.type === "PRIVATE KEY")?.pem;
  if (certs.length !== 2 || !key) {
    throw new BadRequest(
      `Identity file "${path}" must hold a certificate, the cluster CA and a private key.`,
    );
  }
  const [cert, ca] = certs;
  return { cert, ca, key, expires: new Date(new X509Certificate(cert).validTo) };
}

/** Writes an identity file, readable by its owner only. */
export async function writeIdentity(path: string, identity: ApiIdentity): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, `${identity.cert}${identity.ca}${identity.key}`, 0o600);
}

/** The cluster CA an auth server presents, read without trusting it yet. */
function fetchClusterCa(server: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.get(`https://${server}${API_PREFIX}/ca`, {
      rejectUnauthorized: false,
      timeout: 10_000,
    }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => {
        try {
          resolve(String(JSON.parse(body).ca));
        } catch {
          reject(new Unavailable(`${server} did not answer like a postern auth server.`));
        }
      });
    });
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on(
      "error",
      (error) =>
        reject(new Unavailable(`Cannot reach the auth server ${server}: ${error.message}.`)),
    );
  });
}

/** Options of {@linkcode joinCluster}. */
export interface JoinOptions {
  servers: string[];
  token: string;
  /** `sha256:<hex>` of the cluster CA's public key. */
  caPin: string;
  request: Omit<JoinRequest, "token" | "tlsPublicKey">;
}

/**
 * Redeems a join token: checks the first reachable auth server's CA against
 * the pin, then, over TLS verified with that CA, trades the token for an identity.
 */
export async function joinCluster(options: JoinOptions): Promise<LoadedIdentity> {
  if (!/^sha256:[0-9a-f]{64}$/.test(options.caPin)) {
    throw new BadRequest(
      `--ca-pin "${options.caPin}" is not sha256:<64 hex digits>; copy it from \`postern tokens add\`.`,
    );
  }
  let lastError: unknown;
  for (const server of options.servers) {
    let ca: string;
    try {
      ca = await fetchClusterCa(server);
    } catch (error) {
      lastError = error;
      continue;
    }
    if (caPin(ca) !== options.caPin) {
      throw new AccessDenied(
        `The auth server ${server} presents a CA whose pin is ${
          caPin(ca)
        }, not the --ca-pin given: check the pin, or the address (something else may answer there).`,
      );
    }
    const keys = await generateTlsKeyPair();
    const http = Deno.createHttpClient({ caCerts: [ca] });
    try {
      const response = await fetch(`https://${server}${API_PREFIX}/join`, {
        method: "POST",
        client: http,
        headers: { "content-type": "application/json" },
        body: encodeWire({
          ...options.request,
          token: options.token,
          tlsPublicKey: keys.publicKey,
        }),
        signal: AbortSignal.timeout(15_000),
      });
      const issued = await resultOf(response) as IssuedIdentity;
      return { cert: issued.cert, ca: issued.ca, key: keys.privateKey, expires: issued.expires };
    } finally {
      http.close();
    }
  }
  throw lastError instanceof Error
    ? lastError
    : new Unavailable(`No auth server answered (${options.servers.join(", ")}).`);
}

/**
 * Renews a proxy identity at half of its remaining lifetime, for as long as
 * the process runs; failures are retried every minute until it expires.
 *
 * @returns a function that stops renewing
 */
export function keepRenewed(options: {
  api: AuthApiClient;
  identity: LoadedIdentity;
  path: string;
  log: Logger;
  /** Called with each renewed identity (the peer listener presents it too). */
  onRenewed?: (identity: LoadedIdentity) => void;
}): () => void {
  let current = options.identity;
  let timer: ReturnType<typeof setTimeout>;
  const schedule = (ms: number) => {
    timer = setTimeout(renew, Math.max(1_000, Math.min(ms, 2 ** 31 - 1)));
  };
  const renew = async () => {
    try {
      const keys = await generateTlsKeyPair();
      const response = await options.api.request("/renew", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: encodeWire({ tlsPublicKey: keys.publicKey }),
      });
      const issued = await resultOf(response) as IssuedIdentity;
      current = { cert: issued.cert, ca: issued.ca, key: keys.privateKey, expires: issued.expires };
      await writeIdentity(options.path, current);
      options.api.useIdentity(current);
      options.onRenewed?.(current);
      options.log.info("renewed the cluster identity", { expires: current.expires.toISOString() });
      schedule((current.expires.getTime() - Date.now()) / 2);
    } catch (error) {
      options.log.warn("cannot renew the cluster identity yet; retrying in a minute", {
        error: String(error),
        expires: current.expires.toISOString(),
      });
      schedule(60_000);
    }
  };
  schedule((current.expires.getTime() - Date.now()) / 2);
  return () => clearTimeout(timer);
}
