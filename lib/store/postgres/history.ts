/**
 * Recorded session metadata, the audit log and the revocation feed in
 * PostgreSQL: the history half of the store, kept when users are deleted.
 *
 * @module
 */

import type {
  AuditEvent,
  AuditQuery,
  AuditStore,
  NewAuditEvent,
  NewSession,
  Revocation,
  RevocationStore,
  SessionFilter,
  SessionParty,
  SessionRecord,
  SessionStore,
} from "../store.ts";
import { clampLimit, clampOffset } from "../paging.ts";
import { explainConstraints, num, rows, type Sql } from "./db.ts";
import { cannotCreate, notFound } from "../refusals.ts";
import type { InTransaction } from "./users.ts";

/** The `sessions` table. */
export class PgSessions implements SessionStore {
  constructor(private readonly sql: Sql, private readonly inTransaction: InTransaction) {}

  create(s: NewSession): Promise<SessionRecord> {
    return explainConstraints(async () => {
      const [r] = await this.sql`INSERT INTO sessions ${
        this.sql({
          id: s.id,
          user_name: s.user,
          login: s.login,
          node: s.node,
          kind: s.kind,
          started: s.started,
          term_cols: s.cols,
          term_rows: s.rows,
          recording_path: s.recordingPath,
          proxy_id: s.proxyId,
          heartbeat: s.started,
        })
      } RETURNING *`;
      return rows.session(r);
    }, cannotCreate.session(s.id));
  }

  async end(id: string, ended: number, exitCode: number | null): Promise<SessionRecord> {
    const [r] = await this.sql`UPDATE sessions SET ended = ${ended}, exit_code = ${exitCode}
      WHERE id = ${id} RETURNING *`;
    if (!r) throw notFound.endSession(id);
    return rows.session(r);
  }

  async endLive(id: string, ended: number, exitCode: number | null): Promise<boolean> {
    const { count } = await this.sql`UPDATE sessions SET ended = ${ended}, exit_code = ${exitCode}
      WHERE id = ${id} AND ended IS NULL`;
    return count === 1;
  }

  async get(id: string): Promise<SessionRecord | null> {
    const [r] = await this.sql`SELECT * FROM sessions WHERE id = ${id}`;
    return r ? rows.session(r) : null;
  }

  async list(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    const f = {
      user: filter.user ?? null,
      node: filter.node ?? null,
      login: filter.login ?? null,
      since: filter.since ?? null,
      until: filter.until ?? null,
    };
    return (await this.sql`SELECT * FROM sessions
      WHERE (${f.user}::text IS NULL OR user_name = ${f.user})
        AND (${f.node}::text IS NULL OR node = ${f.node})
        AND (${f.login}::text IS NULL OR login = ${f.login})
        AND (${f.since}::bigint IS NULL OR started >= ${f.since})
        AND (${f.until}::bigint IS NULL OR started < ${f.until})
        AND (${filter.activeOnly ?? false} = false OR ended IS NULL)
      ORDER BY started DESC, id
      LIMIT ${clampLimit(filter.limit, 100)} OFFSET ${clampOffset(filter.offset)}`)
      .map(rows.session);
  }

  heartbeat(
    proxyId: string,
    live: { id: string; parties: SessionParty[] }[],
    now: number,
  ): Promise<void> {
    return this.inTransaction(async (tx) => {
      for (const session of live) {
        // Only the owner's word counts, and only for a session still live.
        await tx`UPDATE sessions SET heartbeat = ${now}, parties = ${
          tx.json(session.parties as never)
        }
          WHERE id = ${session.id} AND proxy_id = ${proxyId} AND ended IS NULL`;
      }
    });
  }

  async listStale(time: number): Promise<SessionRecord[]> {
    return (await this.sql`SELECT * FROM sessions
      WHERE ended IS NULL AND coalesce(heartbeat, started) < ${time}`).map(rows.session);
  }
}

/** The `audit_events` table. */
export class PgAudit implements AuditStore {
  constructor(private readonly sql: Sql) {}

  async append(e: NewAuditEvent): Promise<AuditEvent> {
    const [r] = await this.sql`INSERT INTO audit_events
      (time, code, user_name, remote_addr, success, fields)
      VALUES (${e.time}, ${e.code}, ${e.user}, ${e.remoteAddr}, ${e.success},
        ${this.sql.json(e.fields as never)})
      RETURNING *`;
    return rows.auditEvent(r);
  }

  async query(q: AuditQuery = {}): Promise<AuditEvent[]> {
    const f = {
      since: q.since ?? null,
      until: q.until ?? null,
      prefix: q.codePrefix ?? null,
      user: q.user ?? null,
      success: q.success ?? null,
    };
    const order = q.order === "desc" ? this.sql`DESC` : this.sql`ASC`;
    return (await this.sql`SELECT * FROM audit_events
      WHERE (${f.since}::bigint IS NULL OR time >= ${f.since})
        AND (${f.until}::bigint IS NULL OR time < ${f.until})
        AND (${f.prefix}::text IS NULL OR substr(code, 1, length(${f.prefix})) = ${f.prefix})
        AND (${f.user}::text IS NULL OR user_name = ${f.user})
        AND (${f.success}::boolean IS NULL OR success = ${f.success})
      ORDER BY id ${order}
      LIMIT ${clampLimit(q.limit, 1000)} OFFSET ${clampOffset(q.offset)}`).map(rows.auditEvent);
  }
}

/** The advisory lock that orders revocations: "revoke" in ASCII. */
const REVOCATION_LOCK = 0x7265766f6b65;

/** The `revocations` table. */
export class PgRevocations implements RevocationStore {
  constructor(private readonly sql: Sql, private readonly inTransaction: InTransaction) {}

  add(r: Omit<Revocation, "id">): Promise<Revocation> {
    return this.inTransaction(async (tx) => {
      // Proxies follow the feed by id. Ids from a sequence can commit out of
      // order on several auth servers, and a follower would skip the one that
      // committed late: one writer at a time makes ids commit in order.
      await tx`SELECT pg_advisory_xact_lock(${REVOCATION_LOCK})`;
      const [row] = await tx`INSERT INTO revocations
        (user_name, web_session_hash, session_id, reason, created)
        VALUES (${r.user}, ${r.webSessionHash}, ${r.sessionId}, ${r.reason}, ${r.created})
        RETURNING *`;
      return rows.revocation(row);
    });
  }

  async since(id: number, limit = 1000): Promise<Revocation[]> {
    return (await this.sql`SELECT * FROM revocations WHERE id > ${id}
      ORDER BY id LIMIT ${clampLimit(limit, 1000)}`).map(rows.revocation);
  }

  async lastId(): Promise<number> {
    const [r] = await this.sql`SELECT coalesce(max(id), 0)::bigint AS id FROM revocations`;
    return num(r.id);
  }

  async deleteBefore(time: number): Promise<number> {
    return (await this.sql`DELETE FROM revocations WHERE created < ${time}`).count;
  }
}
