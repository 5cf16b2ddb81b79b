/**
 * `GET /v1/webapi/ping`: what a client needs before logging in: the cluster
 * name, where the SSH gateway listens and its host key (so the CLI can write
 * it to known_hosts and OpenSSH never shows a trust prompt), the second
 * factor sign-in asks for, and the version.
 *
 * @module
 */

import { json, type Router } from "../http.ts";
import { VERSION } from "../../../version.ts";

/** Facts about this proxy. */
export interface PingInfo {
  cluster: string;
  /** Configured ssh_public_addr, if any. */
  sshPublicAddr?: string;
  /** Port of the SSH listener, used with the request's host when no public address is set. */
  sshPort: number;
  sshHostKey: string;
  /** `auth.second_factor`, so that the sign-in page offers what it asks for. */
  secondFactor: string;
  /** `auth.passwordless`: the sign-in page offers "Sign in with a passkey". */
  passwordless: boolean;
  /** Single sign-on connectors: "Sign in with <display>" on the sign-in page. */
  connectors: { name: string; display: string }[];
}

/** Installs the ping route. */
export function pingRoute(router: Router, info: PingInfo): void {
  router.on("GET", "/v1/webapi/ping", (request, { url }) => {
    const host = request.headers.get("host") ?? url.host;
    const hostname = host.replace(/:\d+$/, "");
    return json({
      cluster: info.cluster,
      ssh_proxy: info.sshPublicAddr ?? `${hostname}:${info.sshPort}`,
      ssh_host_key: info.sshHostKey,
      version: VERSION,
      auth: {
        second_factor: info.secondFactor,
        passwordless: info.passwordless,
        connectors: info.connectors,
      },
    });
  });
}
