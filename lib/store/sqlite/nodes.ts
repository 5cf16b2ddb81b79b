/**
 * Registered nodes, browser sessions and proxies in SQLite.
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
import { type Db, explainConstraints, type Gate, rows } from "./db.ts";
import { cannotCreate, notFound } from "../refusals.ts";

/** The `nodes` table. */
export class SqliteNodes implements NodeStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  create(node: NodeRecord): Promise<NodeRecord> {
    return this.gate(() => {
      return explainConstraints(() => {
        return this.#insert(node, "");
      }, cannotCreate.node(node.name));
    });
  }

  upsert(node: NodeRecord): Promise<NodeRecord> {
    return this.gate(() =>
      this.#insert(
        node,
        `ON CONFLICT (name) DO UPDATE SET addr = excluded.addr, labels = excluded.labels,
           host_key = excluded.host_key, require_host_cert = excluded.require_host_cert,
           source = excluded.source`,
      )
    );
  }

  #insert(node: NodeRecord, onConflict: string): NodeRecord {
    const r = this.db.get(
      `INSERT INTO nodes (name, addr, labels, host_key, require_host_cert, source, created)
       VALUES (?, ?, ?, ?, ?, ?, ?) ${onConflict} RETURNING *`,
      node.name,
      node.addr,
      JSON.stringify(node.labels),
      node.hostKey,
      node.requireHostCert ? 1 : 0,
      node.source,
      node.created,
    );
    return rows.node(r!);
  }

  get(name: string): Promise<NodeRecord | null> {
    return this.gate(() => this.db.find(rows.node, "SELECT * FROM nodes WHERE name = ?", name));
  }

  list(): Promise<NodeRecord[]> {
    return this.gate(() => this.db.all("SELECT * FROM nodes ORDER BY name").map(rows.node));
  }

  update(name: string, patch: NodePatch): Promise<NodeRecord> {
    return this.gate(() => {
      const r = this.db.get(
        `UPDATE nodes SET
           addr = COALESCE(:addr, addr),
           labels = COALESCE(:labels, labels),
           host_key = CASE WHEN :setHostKey THEN :hostKey ELSE host_key END,
           require_host_cert = COALESCE(:requireHostCert, require_host_cert),
           source = COALESCE(:source, source)
         WHERE name = :name RETURNING *`,
        {
          name,
          addr: patch.addr ?? null,
          labels: patch.labels ? JSON.stringify(patch.labels) : null,
          setHostKey: patch.hostKey !== undefined ? 1 : 0,
          hostKey: patch.hostKey ?? null,
          requireHostCert: patch.requireHostCert === undefined
            ? null
            : patch.requireHostCert
            ? 1
            : 0,
          source: patch.source ?? null,
        },
      );
      if (!r) throw notFound.updateNode(name);
      return rows.node(r);
    });
  }

  delete(name: string): Promise<boolean> {
    return this.gate(() => this.db.run("DELETE FROM nodes WHERE name = ?", name) > 0);
  }
}

/** The `web_sessions` table. */
export class SqliteWebSessions implements WebSessionStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  create(s: WebSessionRecord): Promise<WebSessionRecord> {
    return this.gate(() => {
      return explainConstraints(() => {
        const r = this.db.get(
          `INSERT INTO web_sessions (id_hash, user, csrf_token_hash, private_key, cert, created,
           last_seen, expires_idle, expires_abs)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          s.idHash,
          s.user,
          s.csrfTokenHash,
          s.privateKey,
          s.cert,
          s.created,
          s.lastSeen,
          s.expiresIdle,
          s.expiresAbs,
        );
        return rows.webSession(r!);
      }, cannotCreate.webSession(s.user));
    });
  }

  get(idHash: SecretHash): Promise<WebSessionRecord | null> {
    return this.gate(() =>
      this.db.find(rows.webSession, "SELECT * FROM web_sessions WHERE id_hash = ?", idHash)
    );
  }

  touch(idHash: SecretHash, now: number, idleMs: number): Promise<WebSessionRecord | null> {
    return this.gate(() =>
      this.db.find(
        rows.webSession,
        `UPDATE web_sessions SET last_seen = :now, expires_idle = min(:now + :idleMs, expires_abs)
         WHERE id_hash = :idHash AND expires_idle > :now AND expires_abs > :now RETURNING *`,
        { idHash, now, idleMs },
      )
    );
  }

  delete(idHash: SecretHash): Promise<boolean> {
    return this.gate(() => this.db.run("DELETE FROM web_sessions WHERE id_hash = ?", idHash) > 0);
  }

  deleteForUser(user: string): Promise<number> {
    return this.gate(() => this.db.run("DELETE FROM web_sessions WHERE user = ?", user));
  }

  listForUser(user: string): Promise<WebSessionRecord[]> {
    return this.gate(() =>
      this.db.all("SELECT * FROM web_sessions WHERE user = ? ORDER BY created DESC", user)
        .map(rows.webSession)
    );
  }

  deleteExpired(now: number): Promise<number> {
    return this.gate(() =>
      this.db.run(
        "DELETE FROM web_sessions WHERE expires_idle <= :now OR expires_abs <= :now",
        { now },
      )
    );
  }
}

/** The `proxies` table. */
export class SqliteProxies implements ProxyStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  upsert(p: ProxyRecord): Promise<void> {
    return this.gate(() => {
      this.db.run(
        `INSERT INTO proxies (id, public_addr, ssh_public_addr, peer_addr, last_seen)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET public_addr = excluded.public_addr,
           ssh_public_addr = excluded.ssh_public_addr, peer_addr = excluded.peer_addr,
           last_seen = excluded.last_seen`,
        p.id,
        p.publicAddr,
        p.sshPublicAddr,
        p.peerAddr,
        p.lastSeen,
      );
    });
  }

  get(id: string): Promise<ProxyRecord | null> {
    return this.gate(() => this.db.find(rows.proxy, "SELECT * FROM proxies WHERE id = ?", id));
  }

  list(): Promise<ProxyRecord[]> {
    return this.gate(() =>
      this.db.all("SELECT * FROM proxies ORDER BY last_seen DESC, id").map(rows.proxy)
    );
  }

  touch(id: string, now: number): Promise<boolean> {
    return this.gate(() =>
      this.db.run("UPDATE proxies SET last_seen = max(last_seen, ?) WHERE id = ?", now, id) > 0
    );
  }

  delete(id: string): Promise<boolean> {
    return this.gate(() => this.db.run("DELETE FROM proxies WHERE id = ?", id) > 0);
  }
}

/** The `roles` table. */
export class SqliteRoles implements RoleStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  list(): Promise<RoleRecord[]> {
    return this.gate(() => this.db.all("SELECT * FROM roles ORDER BY name").map(rows.role));
  }

  replaceAll(roles: RoleRecord[]): Promise<void> {
    return this.gate(() => {
      // Statement by statement: the auth server alone writes the table, once
      // at start, and writing it again gives the same table.
      const names = roles.map((role) => role.name);
      this.db.run(
        `DELETE FROM roles WHERE name NOT IN (SELECT value FROM json_each(?))`,
        JSON.stringify(names),
      );
      for (const role of roles) {
        this.db.run(
          `INSERT INTO roles (name, spec, updated) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated = excluded.updated`,
          role.name,
          JSON.stringify(role.spec),
          role.updated,
        );
      }
    });
  }
}

/** The `join_tokens` table. */
export class SqliteJoinTokens implements JoinTokenStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  create(t: JoinTokenRecord): Promise<void> {
    return this.gate(() => {
      this.db.run(
        "INSERT INTO join_tokens (token_hash, kind, created, expires) VALUES (?, ?, ?, ?)",
        t.tokenHash,
        t.kind,
        t.created,
        t.expires,
      );
    });
  }

  consume(tokenHash: SecretHash, now: number): Promise<JoinTokenRecord | null> {
    return this.gate(() =>
      // One DELETE ... RETURNING: of racing callers exactly one gets the row.
      this.db.find(
        rows.joinToken,
        "DELETE FROM join_tokens WHERE token_hash = ? AND expires > ? RETURNING *",
        tokenHash,
        now,
      )
    );
  }

  list(now: number): Promise<JoinTokenRecord[]> {
    return this.gate(() =>
      this.db.all("SELECT * FROM join_tokens WHERE expires > ? ORDER BY created DESC", now)
        .map(rows.joinToken)
    );
  }

  deleteByPrefix(prefix: string): Promise<number> {
    return this.gate(() =>
      this.db.run(
        "DELETE FROM join_tokens WHERE substr(token_hash, 1, ?) = ?",
        prefix.length,
        prefix,
      )
    );
  }
}

/** The `request_nonces` table. */
export class SqliteRequestNonces implements RequestNonceStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  use(nonce: string, expires: number, now: number): Promise<boolean> {
    return this.gate(() => {
      this.db.run("DELETE FROM request_nonces WHERE expires <= ?", now);
      return this.db.run(
        "INSERT OR IGNORE INTO request_nonces (nonce, expires) VALUES (?, ?)",
        nonce,
        expires,
      ) === 1;
    });
  }
}

/** The `auth_servers` table. */
export class SqliteAuthServers implements AuthServerStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  beat(a: AuthServerRecord): Promise<void> {
    return this.gate(() => {
      this.db.run(
        `INSERT INTO auth_servers (id, addr, version, started, last_seen) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET addr = excluded.addr, version = excluded.version,
           started = excluded.started, last_seen = excluded.last_seen`,
        a.id,
        a.addr,
        a.version,
        a.started,
        a.lastSeen,
      );
    });
  }

  list(): Promise<AuthServerRecord[]> {
    return this.gate(() =>
      this.db.all("SELECT * FROM auth_servers ORDER BY last_seen DESC, id").map(rows.authServer)
    );
  }
}
