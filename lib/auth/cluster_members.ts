/**
 * The cluster's members as the store knows them: proxies that registered
 * (where users reach them; removed by an administrator), auth servers that
 * report themselves alive, and the status summary built from them
 * (`postern status --cluster`).
 *
 * @module
 */

import { NotFound } from "../errors.ts";
import { fingerprint, parsePublicKeyLine } from "../sshcert/mod.ts";
import type { ProxyRecord, Store } from "../store/store.ts";
import type { ClusterTlsCa } from "../tls/cluster_ca.ts";
import { VERSION } from "../version.ts";
import type { AuditInput } from "./audit.ts";
import type { ClusterStatus, ProxyRegistration } from "./service.ts";

/** What the status says about this cluster and the auth server answering. */
export interface ClusterFacts {
  cluster: string;
  storage: ClusterStatus["storage"];
  /** Why this auth server cannot work now, or null (see `notReadyReason`). */
  notReadyReason: () => Promise<string | null>;
}

/** Proxies and auth servers over the store. */
export class ClusterMembers {
  constructor(
    private readonly store: Store,
    private readonly tlsCa: ClusterTlsCa,
    private readonly facts: ClusterFacts,
    private readonly audit: (event: AuditInput) => Promise<void>,
    private readonly now: () => number,
  ) {}

  /** Records where users reach a proxy (invite links use it when no public_addr is configured). */
  registerProxy(proxy: ProxyRegistration): Promise<void> {
    return this.store.proxies.upsert({ ...proxy, lastSeen: this.now() });
  }

  listProxies(): Promise<ProxyRecord[]> {
    return this.store.proxies.list();
  }

  /** Forgets a proxy; audited as `proxy.remove`. */
  async removeProxy(id: string, actor?: string): Promise<void> {
    if (!(await this.store.proxies.delete(id))) {
      throw new NotFound(`No proxy "${id}"; list them with \`postern proxies ls\`.`);
    }
    await this.audit({ code: "proxy.remove", user: actor, fields: { id } });
  }

  /** Reports an auth server alive (the cluster status lists the auth servers on a store). */
  async reportAuthServer(server: { id: string; addr: string; started: number }): Promise<void> {
    await this.store.authServers.beat({ ...server, version: VERSION, lastSeen: this.now() });
  }

  /** The state of the cluster as this auth server sees it. */
  async status(): Promise<ClusterStatus> {
    const [notReadyReason, users, nodes, live, proxies, authServers] = await Promise.all([
      this.facts.notReadyReason(),
      this.store.users.list(),
      this.store.nodes.list(),
      this.store.sessions.list({ activeOnly: true, limit: 10_000 }),
      this.store.proxies.list(),
      this.store.authServers.list(),
    ]);
    const authorities: ClusterStatus["authorities"] = [];
    for (const kind of ["user", "host", "tls"] as const) {
      const ca = await this.store.cas.get(kind);
      if (!ca) continue;
      authorities.push({
        kind,
        fingerprint: kind === "tls"
          ? this.tlsCa.pin
          : fingerprint(parsePublicKeyLine(ca.publicKey).key),
        created: ca.created,
      });
    }
    return {
      cluster: this.facts.cluster,
      version: VERSION,
      notReadyReason,
      storage: this.facts.storage,
      authServers,
      authorities,
      proxies,
      counts: { users: users.length, nodes: nodes.length, liveSessions: live.length },
    };
  }
}
