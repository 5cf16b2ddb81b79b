/**
 * Registered nodes, browser sessions, proxies, roles and join tokens in
 * PostgreSQL.
 *
 * @module
 */

import type {
  AuthServerRecord,
  AuthServerStore,
  JoinTokenRecord,
  JoinTokenStore,
  NodePatch,
  NodeRecord,
  NodeStore,
  ProxyRecord,
  ProxyStore,
  RequestNonceStore,
  RoleRecord,
  RoleStore,
  SecretHash,
  WebSessionRecord,
  WebSessionStore,
} from "../store.ts";
import { explainConstraints, rows, type Sql } from "./db.ts";
import { cannotCreate, notFound } from "../refusals.ts";
import type { InTransaction } from "./users.ts";

/** The `nodes` table. */
export class PgNodes implements NodeStore {
  constructor(private readonly sql: Sql) {}

  create(node: NodeRecord): Promise<NodeRecord> {
    return explainConstraints(async () => {
      const [r] = await this.sql`INSERT INTO nodes ${this.sql(this.#row(node))} RETURNING *`;
      return rows.node(r);
    }, cannotCreate.node(node.name));
  }

  async upsert(node: NodeRecord): Promise<NodeRecord> {
    const [r] = await this.sql`INSERT INTO nodes ${this.sql(this.#row(node))}
      ON CONFLICT (name) DO UPDATE SET addr = excluded.addr, labels = excluded.labels,
        host_key = excluded.host_key, require_host_cert = excluded.require_host_cert,
        source = excluded.source
      RETURNING *`;
    return rows.node(r);
  }

  #row(node: NodeRecord) {
    return {
      name: node.name,
      addr: node.addr,
      labels: this.sql.json(node.labels),
      host_key: node.hostKey,
      require_host_cert: node.requireHostCert,
      source: node.source,
      created: node.created,
    };
  }

  async get(name: string): Promise<NodeRecord | null> {
    const [r] = await this.sql`SELECT * FROM nodes WHERE name = ${name}`;
    return r ? rows.node(r) : null;
  }

  async list(): Promise<NodeRecord[]> {
    return (await this.sql`SELECT * FROM nodes ORDER BY name`).map(rows.node);
  }

  async update(name: string, patch: NodePatch): Promise<NodeRecord> {
    const set: Record<string, unknown> = {};
    if (patch.addr !== undefined) set.addr = patch.addr;
    if (patch.labels !== undefined) set.labels = this.sql.json(patch.labels);
    if (patch.hostKey !== undefined) set.host_key = patch.hostKey;
    if (patch.requireHostCert !== undefined) set.require_host_cert = patch.requireHostCert;
    if (patch.source !== undefined) set.source = patch.source;
    const [r] = Object.keys(set).length === 0
      ? await this.sql`SELECT * FROM nodes WHERE name = ${name}`
      : await this.sql`UPDATE nodes SET ${this.sql(set)} WHERE name = ${name} RETURNING *`;
    if (!r) throw notFound.updateNode(name);
    return rows.node(r);
  }

  async delete(name: string): Promise<boolean> {
    return (await this.sql`DELETE FROM nodes WHERE name = ${name}`).count > 0;
  }
}

/** The `web_sessions` table. */
export class PgWebSessions implements WebSessionStore {
  constructor(private readonly sql: Sql) {}

  create(s: WebSessionRecord): Promise<WebSessionRecord> {
    return explainConstraints(async () => {
      const [r] = await this.sql`INSERT INTO web_sessions ${
        this.sql({
          id_hash: s.idHash,
          user_name: s.user,
          csrf_token_hash: s.csrfTokenHash,
          private_key: s.privateKey,
          cert: s.cert,
          created: s.created,
          last_seen: s.lastSeen,
          expires_idle: s.expiresIdle,
          expires_abs: s.expiresAbs,
        })
      } RETURNING *`;
      return rows.webSession(r);
    }, cannotCreate.webSession(s.user));
  }

  async get(idHash: SecretHash): Promise<WebSessionRecord | null> {
    const [r] = await this.sql`SELECT * FROM web_sessions WHERE id_hash = ${idHash}`;
    return r ? rows.webSession(r) : null;
  }

  async touch(idHash: SecretHash, now: number, idleMs: number): Promise<WebSessionRecord | null> {
    const [r] = await this.sql`UPDATE web_sessions SET last_seen = ${now},
        expires_idle = least(${now + idleMs}::bigint, expires_abs)
      WHERE id_hash = ${idHash} AND expires_idle > ${now} AND expires_abs > ${now}
      RETURNING *`;
    return r ? rows.webSession(r) : null;
  }

  async delete(idHash: SecretHash): Promise<boolean> {
    return (await this.sql`DELETE FROM web_sessions WHERE id_hash = ${idHash}`).count > 0;
  }

  async deleteForUser(user: string): Promise<number> {
    return (await this.sql`DELETE FROM web_sessions WHERE user_name = ${user}`).count;
  }

  async listForUser(user: string): Promise<WebSessionRecord[]> {
    return (await this.sql`SELECT * FROM web_sessions WHERE user_name = ${user}
      ORDER BY created DESC`).map(rows.webSession);
  }

  async deleteExpired(now: number): Promise<number> {
    return (await this.sql`DELETE FROM web_sessions
      WHERE expires_idle <= ${now} OR expires_abs <= ${now}`).count;
  }
}

/** The `proxies` table. */
export class PgProxies implements ProxyStore {
  constructor(private readonly sql: Sql) {}

  async upsert(p: ProxyRecord): Promise<void> {
    await this.sql`INSERT INTO proxies (id, public_addr, ssh_public_addr, peer_addr, last_seen)
      VALUES (${p.id}, ${p.publicAddr}, ${p.sshPublicAddr}, ${p.peerAddr}, ${p.lastSeen})
      ON CONFLICT (id) DO UPDATE SET public_addr = excluded.public_addr,
        ssh_public_addr = excluded.ssh_public_addr, peer_addr = excluded.peer_addr,
        last_seen = excluded.last_seen`;
  }

  async touch(id: string, now: number): Promise<boolean> {
    const { count } = await this.sql`UPDATE proxies SET last_seen = greatest(last_seen, ${now})
      WHERE id = ${id}`;
    return count === 1;
  }

  async get(id: string): Promise<ProxyRecord | null> {
    const [r] = await this.sql`SELECT * FROM proxies WHERE id = ${id}`;
    return r ? rows.proxy(r) : null;
  }

  async list(): Promise<ProxyRecord[]> {
    return (await this.sql`SELECT * FROM proxies ORDER BY last_seen DESC, id`).map(rows.proxy);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.sql`DELETE FROM proxies WHERE id = ${id}`).count > 0;
  }
}

/** The `roles` table. */
export class PgRoles implements RoleStore {
  constructor(private readonly sql: Sql, private readonly inTransaction: InTransaction) {}

  async list(): Promise<RoleRecord[]> {
    return (await this.sql`SELECT * FROM roles ORDER BY name`).map(rows.role);
  }

  replaceAll(roles: RoleRecord[]): Promise<void> {
    // In one transaction: auth servers starting together each write the whole table.
    return this.inTransaction(async (tx) => {
      const names = roles.map((role) => role.name);
      await tx`DELETE FROM roles WHERE NOT (name = ANY(${names}::text[]))`;
      for (const role of roles) {
        await tx`INSERT INTO roles (name, spec, updated)
          VALUES (${role.name}, ${tx.json(role.spec as never)}, ${role.updated})
          ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated = excluded.updated`;
      }
    });
  }
}

/** The `join_tokens` table. */
export class PgJoinTokens implements JoinTokenStore {
  constructor(private readonly sql: Sql) {}

  async create(t: JoinTokenRecord): Promise<void> {
    await this.sql`INSERT INTO join_tokens (token_hash, kind, created, expires)
      VALUES (${t.tokenHash}, ${t.kind}, ${t.created}, ${t.expires})`;
  }

  async consume(tokenHash: SecretHash, now: number): Promise<JoinTokenRecord | null> {
    // One DELETE ... RETURNING: of racing callers exactly one gets the row.
    const [r] = await this.sql`DELETE FROM join_tokens
      WHERE token_hash = ${tokenHash} AND expires > ${now} RETURNING *`;
    return r ? rows.joinToken(r) : null;
  }

  async list(now: number): Promise<JoinTokenRecord[]> {
    return (await this.sql`SELECT * FROM join_tokens WHERE expires > ${now}
      ORDER BY created DESC`).map(rows.joinToken);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    return (await this.sql`DELETE FROM join_tokens
      WHERE substr(token_hash, 1, ${prefix.length}) = ${prefix}`).count;
  }
}

/** The `request_nonces` table. */
export class PgRequestNonces implements RequestNonceStore {
  constructor(private readonly sql: Sql) {}

  async use(nonce: string, expires: number, now: number): Promise<boolean> {
    await this.sql`DELETE FROM request_nonces WHERE expires <= ${now}`;
    const { count } = await this.sql`INSERT INTO request_nonces (nonce, expires)
      VALUES (${nonce}, ${expires}) ON CONFLICT (nonce) DO NOTHING`;
    return count === 1;
  }
}

/** The `auth_servers` table. */
export class PgAuthServers implements AuthServerStore {
  constructor(private readonly sql: Sql) {}

  async beat(a: AuthServerRecord): Promise<void> {
    await this.sql`INSERT INTO auth_servers (id, addr, version, started, last_seen)
      VALUES (${a.id}, ${a.addr}, ${a.version}, ${a.started}, ${a.lastSeen})
      ON CONFLICT (id) DO UPDATE SET addr = excluded.addr, version = excluded.version,
        started = excluded.started, last_seen = excluded.last_seen`;
  }

  async list(): Promise<AuthServerRecord[]> {
    return (await this.sql`SELECT * FROM auth_servers ORDER BY last_seen DESC, id`)
      .map(rows.authServer);
  }
}
