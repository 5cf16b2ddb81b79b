/**
 * The Auth API client: a proxy's (or an admin machine's) view of an auth
 * service in another process, implementing the same interfaces as the
 * in-process `LocalAuthService`. Calls go to whichever listed auth server
 * answers, over mutual TLS with the caller's cluster identity. What never
 * changes while auth runs (cluster name, CA keys) is fetched once, so an SSH
 * login through the proxy costs no round trip for it.
 *
 * @module
 */

import { PosternError, Unavailable } from "../../errors.ts";
import { ADMIN_CALLS } from "../admin_scope.ts";
import type { AuthAdmin, AuthService, UserProof } from "../service.ts";
import type { ClusterInfo } from "./server.ts";
import { PROXY_CALLS } from "./calls.ts";
import { authApiDuration, authApiErrors } from "../../metrics/metrics.ts";
import {
  API_PREFIX,
  decodeWire,
  encodeWire,
  errorFromWire,
  PROOF_HEADER,
  type WireError,
} from "./wire.ts";

/** How long one control call may take before the next auth server is tried. */
const CALL_TIMEOUT_MS = 15_000;

/** A cluster identity: certificate, key and the cluster CA, all PEM. */
export interface ApiIdentity {
  cert: string;
  key: string;
  ca: string;
}

/** Talks to a list of auth servers as one. */
export class AuthApiClient {
  #http: Deno.HttpClient;
  #current = 0;

  constructor(readonly servers: string[], identity: ApiIdentity) {
    if (servers.length === 0) throw new Unavailable("No auth server is configured.");
    this.#http = AuthApiClient.#httpClient(identity);
  }

  static #httpClient(identity: ApiIdentity): Deno.HttpClient {
    return Deno.createHttpClient({
      caCerts: [identity.ca],
      cert: identity.cert,
      key: identity.key,
    });
  }

  /** Uses a renewed identity from now on. */
  useIdentity(identity: ApiIdentity): void {
    const old = this.#http;
    this.#http = AuthApiClient.#httpClient(identity);
    // Calls in flight finish on the old connection.
    setTimeout(() => old.close(), CALL_TIMEOUT_MS * 2);
  }

  /** Sends one request to the first auth server that answers; Unavailable when none does. */
  async request(path: string, init: RequestInit & { retry?: boolean } = {}): Promise<Response> {
    const attempts = init.retry === false ? 1 : this.servers.length;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      const server = this.servers[(this.#current + i) % this.servers.length];
      try {
        const response = await fetch(`https://${server}${API_PREFIX}${path}`, {
          ...init,
          client: this.#http,
          signal: init.signal ?? AbortSignal.timeout(CALL_TIMEOUT_MS),
        });
        this.#current = (this.#current + i) % this.servers.length;
        return response;
      } catch (error) {
        lastError = error;
      }
    }
    throw new Unavailable(
      `The auth service is unreachable (${this.servers.join(", ")}); retrying.`,
      { cause: lastError },
    );
  }

  /** Calls `method` with `args` (acting for the user of `as` when given). */
  async call(method: string, args: unknown[], as?: UserProof): Promise<unknown> {
    const done = authApiDuration.startTimer({ call: method });
    try {
      const response = await this.request(`/call/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: encodeWire({ args, ...(as ? { as } : {}) }),
      });
      return await resultOf(response);
    } catch (error) {
      const reason = error instanceof PosternError ? error.kind : "internal";
      authApiErrors.inc({ call: method, reason });
      throw error;
    } finally {
      done();
    }
  }

  close(): void {
    this.#http.close();
  }
}

/** The result of an Auth API response, or its error rebuilt. */
export async function resultOf(response: Response): Promise<unknown> {
  const text = await response.text();
  let body: { result?: unknown; error?: WireError };
  try {
    body = decodeWire(text) as typeof body;
  } catch {
    throw new Unavailable(`The auth service answered ${response.status} with no readable body.`);
  }
  if (body?.error) throw errorFromWire(body.error);
  if (!response.ok) throw new Unavailable(`The auth service answered ${response.status}.`);
  return body?.result;
}

/** Auth in another process, reached through the Auth API. */
export type RemoteAuth = AuthService & AuthAdmin;

function adminCalls(api: AuthApiClient, as?: UserProof): AuthAdmin {
  const admin = {} as Record<string, unknown>;
  for (const method of Object.keys(ADMIN_CALLS)) {
    admin[method] = (...args: unknown[]) => api.call(method, args, as);
  }
  return admin as unknown as AuthAdmin;
}

/** Connects: fetches what never changes, then answers every call through `api`. */
export async function connectRemoteAuth(api: AuthApiClient): Promise<RemoteAuth> {
  const info = await api.call("clusterInfo", []) as ClusterInfo;
  const plain = {} as Record<string, unknown>;
  for (const method of PROXY_CALLS) {
    plain[method] = (...args: unknown[]) => api.call(method, args);
  }
  const remote: Omit<
    RemoteAuth,
    // notReadyReason answers even when auth is unreachable: defined below.
    Exclude<(typeof PROXY_CALLS)[number], "notReadyReason"> | keyof AuthAdmin
  > = {
    cluster: info.cluster,
    userCaKeys: () => info.userCaKeys,
    hostCaLine: () => info.hostCaLine,
    adminAs: (proof) => adminCalls(api, proof),
    async openRecording(proof, id) {
      const response = await api.request(`/recordings/${encodeURIComponent(id)}`, {
        headers: {
          [PROOF_HEADER]: btoa(JSON.stringify(proof)).replaceAll("+", "-")
            .replaceAll("/", "_").replace(/=+$/, ""),
        },
        signal: AbortSignal.timeout(24 * 3_600_000),
      });
      if (!response.ok || !response.body) {
        await resultOf(response);
        throw new Unavailable(`The auth service answered ${response.status}.`);
      }
      return response.body;
    },
    async notReadyReason() {
      try {
        return await api.call("notReadyReason", []) as string | null;
      } catch (error) {
        if (error instanceof PosternError) return error.message;
        throw error;
      }
    },
  };
  return Object.assign(plain, adminCalls(api), remote) as unknown as RemoteAuth;
}
