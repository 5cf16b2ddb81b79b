/**
 * The Auth API server: JSON over mutually authenticated TLS on
 * `auth.listen_addr` (default :3025). Every caller but a joining one presents
 * a certificate of the cluster TLS CA; its organisation says what it is (a
 * proxy or an admin machine) and decides what it may call. A proxy acts for a
 * user only with the user's proof (see {@link UserProof}); it cannot
 * administer without a user who may.
 *
 * `Deno.serve` cannot ask for client certificates (denoland/deno#26825), so
 * this listener is `node:https`; its speed does not matter for control calls.
 *
 * Routes (all under /v1):
 * - `GET /ca` (no certificate): the cluster name and CA certificate, which a
 *   joining process checks against its `--ca-pin`.
 * - `POST /join` (no certificate): redeems a join token for an identity.
 * - `POST /renew` (proxy): a new certificate before the current one expires.
 * - `POST /call/<method>` `{args, as?}` → `{result}` or `{error: {kind, message}}`.
 * - `GET /recordings/<id>` (proof header): streams a recording.
 *
 * @module
 */

import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { Readable } from "node:stream";
import {
  AccessDenied,
  BadRequest,
  HTTP_STATUS,
  NotFound,
  TooLarge,
  Unauthenticated,
} from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { generateTlsKeyPair } from "../../tls/cluster_ca.ts";
import { parseHostPort } from "../../config/schema.ts";
import type { LocalAuthService } from "../local.ts";
import { ADMIN_CALLS, callAs } from "../admin_scope.ts";
import type { AuthAdmin, UserProof } from "../service.ts";
import { PROXY_CALLS } from "./calls.ts";
import { API_PREFIX, decodeWire, encodeWire, errorToWire, PROOF_HEADER } from "./wire.ts";

/** Largest JSON request body. */
const MAX_BODY_BYTES = 1 << 20;
/** The Auth API's own certificate is re-issued at every start. */
const SERVER_CERT_TTL_MS = 365 * 86_400_000;

/** Who is calling, from their certificate. */
export type Caller = { kind: "proxy"; id: string } | { kind: "admin"; id: string };

/** What every caller learns once and caches: it never changes while auth runs. */
export interface ClusterInfo {
  cluster: string;
  userCaKeys: Uint8Array[];
  hostCaLine: string;
}

/** Options of {@linkcode startAuthApi}. */
export interface AuthApiOptions {
  hostname: string;
  port: number;
  /** More names the certificate covers (`auth.public_addrs`: a load balancer's). */
  publicNames?: string[];
  auth: LocalAuthService;
  log: Logger;
}

/** A running Auth API listener. */
export interface AuthApiServer {
  addr: { hostname: string; port: number };
  close(): Promise<void>;
}

/** Names the Auth API's certificate covers: this machine's names and addresses, and `extra`. */
function serverNames(hostname: string, extra: string[]): { dns: string[]; ips: string[] } {
  const ips = ["127.0.0.1", "::1"];
  for (const iface of Deno.networkInterfaces()) ips.push(iface.address);
  const dns = ["localhost", Deno.hostname()];
  for (const name of [hostname, ...extra.map((addr) => parseHostPort(addr)?.hostname ?? addr)]) {
    if (/^[\d.]+$|:/.test(name)) ips.push(name.replace(/^\[|\]$/g, ""));
    else dns.push(name);
  }
  return { dns, ips: ips.filter((ip) => ip !== "0.0.0.0" && ip !== "::") };
}

/** Starts the Auth API on `hostname:port` with a certificate of the cluster TLS CA. */
export async function startAuthApi(options: AuthApiOptions): Promise<AuthApiServer> {
  const { auth, log } = options;
  const keys = await generateTlsKeyPair();
  const cert = await auth.tlsCa.issue({
    publicKey: keys.publicKey,
    name: { kind: "auth", id: Deno.hostname() },
    ttlMs: SERVER_CERT_TTL_MS,
    serverNames: serverNames(options.hostname, options.publicNames ?? []),
  });
  const server = https.createServer({
    key: keys.privateKey,
    cert: `${cert}${auth.tlsCa.certPem}`,
    ca: auth.tlsCa.certPem,
    requestCert: true,
    // Joining callers have no certificate yet: each route checks `authorized`.
    rejectUnauthorized: false,
  }, (request, response) => {
    handle(request, response, options).catch((error) => {
      log.error("auth API request failed", { path: request.url, error: String(error) });
      if (!response.headersSent) reply(response, 500, { error: internalError() });
      else response.destroy();
    });
  });
  server.on("tlsClientError", () => {}); // a bad handshake concerns that client only
  const { promise: listening, resolve, reject } = Promise.withResolvers<void>();
  server.once("error", reject);
  server.listen(options.port, options.hostname, () => resolve());
  await listening;
  const address = server.address() as { address: string; port: number };
  log.info("auth API listening", { addr: `${address.address}:${address.port}` });
  return {
    addr: { hostname: address.address, port: address.port },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function internalError() {
  return { kind: "unavailable", message: "Internal error in the auth service; see its log." };
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = encodeWire(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/** The caller a verified client certificate names; null without one. */
function callerOf(request: IncomingMessage, cluster: string): Caller | null {
  const socket = request.socket as TLSSocket;
  if (!socket.authorized) return null;
  const subject = socket.getPeerCertificate()?.subject as Record<string, string> | undefined;
  if (!subject || subject.OU !== cluster || !subject.CN) return null;
  if (subject.O === "proxy" || subject.O === "admin") return { kind: subject.O, id: subject.CN };
  return null;
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new TooLarge("The Auth API request is too large.");
    chunks.push(chunk);
  }
  const decoded = decodeWire(Buffer.concat(chunks).toString("utf8") || "{}");
  if (!decoded || typeof decoded !== "object" || Array.isArray(decoded)) {
    throw new BadRequest("The Auth API request must be a JSON object.");
  }
  return decoded as Record<string, unknown>;
}

function remoteAddrOf(request: IncomingMessage): string {
  return request.socket.remoteAddress ?? "";
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: AuthApiOptions,
): Promise<void> {
  const { auth } = options;
  const url = new URL(request.url ?? "/", "https://auth");
  const path = url.pathname.startsWith(`${API_PREFIX}/`)
    ? url.pathname.slice(API_PREFIX.length)
    : "";
  try {
    if (request.method === "GET" && path === "/ca") {
      return reply(response, 200, { cluster: auth.cluster, ca: auth.tlsCa.certPem });
    }
    if (request.method === "POST" && path === "/join") {
      const body = await readBody(request);
      const identity = await auth.joins.redeem(body as never, remoteAddrOf(request));
      return reply(response, 200, { result: identity });
    }
    const caller = callerOf(request, auth.cluster);
    if (!caller) {
      throw new Unauthenticated(
        "The Auth API needs a certificate of this cluster; join with a token first.",
      );
    }
    if (caller.kind === "proxy" && !(await auth.joins.isRegisteredProxy(caller.id))) {
      throw new AccessDenied(
        `Proxy "${caller.id}" was removed from the cluster; join it again with a new token.`,
      );
    }
    if (request.method === "POST" && path === "/renew") {
      const body = await readBody(request);
      return reply(response, 200, {
        result: await auth.joins.renew(caller, String(body.tlsPublicKey ?? "")),
      });
    }
    const recording = path.match(/^\/recordings\/([0-9a-f-]{36})$/);
    if (recording && request.method === "GET") {
      const proof = proofHeader(request);
      const body = await auth.openRecording(proof, recording[1]);
      response.writeHead(200, { "content-type": "application/x-asciicast" });
      Readable.fromWeb(body as never).pipe(response);
      return;
    }
    const call = path.match(/^\/call\/([A-Za-z]+)$/);
    if (call && request.method === "POST") {
      const body = await readBody(request);
      const result = await dispatch(auth, caller, call[1], body);
      return reply(response, 200, { result: result ?? null });
    }
    throw new NotFound(`The Auth API has no ${request.method} ${url.pathname}.`);
  } catch (error) {
    const wire = errorToWire(error);
    if (!wire) throw error;
    reply(response, HTTP_STATUS[wire.kind] ?? 500, { error: wire });
  }
}

function proofHeader(request: IncomingMessage): UserProof {
  const header = request.headers[PROOF_HEADER];
  if (typeof header !== "string") throw new Unauthenticated("No user proof came with the call.");
  try {
    return JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
  } catch {
    throw new BadRequest("The user proof header is malformed.");
  }
}

/** Runs one call for `caller`, or refuses it. */
async function dispatch(
  auth: LocalAuthService,
  caller: Caller,
  method: string,
  body: Record<string, unknown>,
): Promise<unknown> {
  const args = Array.isArray(body.args) ? body.args : [];
  if (method === "clusterInfo") {
    const info: ClusterInfo = {
      cluster: auth.cluster,
      userCaKeys: auth.userCaKeys(),
      hostCaLine: auth.hostCaLine(),
    };
    return info;
  }
  const adminCall = Object.hasOwn(ADMIN_CALLS, method) ? method as keyof AuthAdmin : null;
  if (caller.kind === "admin") {
    if (adminCall) return await callAs(auth, adminCall, args, `admin identity ${caller.id}`);
    if (method === "hostCaKnownHosts") return await auth.hostCaKnownHosts();
    throw new AccessDenied(`An admin identity cannot call "${method}".`);
  }
  if (adminCall) {
    if (!body.as) {
      throw new AccessDenied(`A proxy calls "${method}" only for a user who may.`);
    }
    const admin = auth.adminAs(body.as as UserProof);
    return await (admin[adminCall] as (...a: unknown[]) => Promise<unknown>)(...args);
  }
  if (!(PROXY_CALLS as readonly string[]).includes(method)) {
    throw new NotFound(`The Auth API has no call "${method}".`);
  }
  if (method === "registerProxy") {
    const registration = args[0] as { id?: unknown } | undefined;
    if (registration?.id !== caller.id) {
      throw new AccessDenied(`Proxy "${caller.id}" may register only itself.`);
    }
  }
  // What a proxy reports about its sessions is recorded as its own, whatever it says.
  if (method === "recordSessionStart") {
    args[0] = { ...(args[0] as object), proxyId: caller.id };
  }
  if (method === "heartbeatSessions") args[0] = caller.id;
  if (method === "audit") {
    const event = (args[0] ?? {}) as { fields?: Record<string, unknown>; remoteAddr?: string };
    args[0] = { ...event, fields: { ...event.fields, proxy: caller.id } };
  }
  const fn = (auth as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
  return await fn.apply(auth, args);
}
