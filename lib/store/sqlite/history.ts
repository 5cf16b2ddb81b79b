/**
 * Recorded session metadata and the audit log in SQLite: the history half of
 * the store, kept when users are deleted.
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
import type { SQLInputValue } from "node:sqlite";
import { type Db, explainConstraints, type Gate, num, rows } from "./db.ts";
import { cannotCreate, notFound } from "../refusals.ts";

/** The `sessions` table. */
export class SqliteSessions implements SessionStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  create(s: NewSession): Promise<SessionRecord> {
    return this.gate(() => {
      return explainConstraints(() => {
        const r = this.db.get(
          `INSERT INTO sessions (id, user, login, node, kind, started, term_cols, term_rows,
           recording_path, proxy_id, heartbeat)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          s.id,
          s.user,
          s.login,
          s.node,
          s.kind,
          s.started,
          s.cols,
          s.rows,
          s.recordingPath,
          s.proxyId,
          s.started,
        );
        return rows.session(r!);
      }, cannotCreate.session(s.id));
    });
  }

  end(id: string, ended: number, exitCode: number | null): Promise<SessionRecord> {
    return this.gate(() => {
      const r = this.db.get(
        "UPDATE sessions SET ended = ?, exit_code = ? WHERE id = ? RETURNING *",
        ended,
        exitCode,
        id,
      );
      if (!r) throw notFound.endSession(id);
      return rows.session(r);
    });
  }

  endLive(id: string, ended: number, exitCode: number | null): Promise<boolean> {
    return this.gate(() =>
      this.db.run(
        "UPDATE sessions SET ended = ?, exit_code = ? WHERE id = ? AND ended IS NULL",
        ended,
        exitCode,
        id,
      ) === 1
    );
  }

  get(id: string): Promise<SessionRecord | null> {
    return this.gate(() => this.db.find(rows.session, "SELECT * FROM sessions WHERE id = ?", id));
  }

  list(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    return this.gate(() =>
      this.db.all(
        `SELECT * FROM sessions
         WHERE (:user IS NULL OR user = :user) AND (:node IS NULL OR node = :node)
           AND (:login IS NULL OR login = :login)
           AND (:since IS NULL OR started >= :since) AND (:until IS NULL OR started < :until)
           AND (:active = 0 OR ended IS NULL)
         ORDER BY started DESC, id LIMIT :limit OFFSET :offset`,
        {
          user: filter.user ?? null,
          node: filter.node ?? null,
          login: filter.login ?? null,
          since: filter.since ?? null,
          until: filter.until ?? null,
          active: filter.activeOnly ? 1 : 0,
          limit: clampLimit(filter.limit, 100),
          offset: clampOffset(filter.offset),
        },
      ).map(rows.session)
    );
  }

  heartbeat(
    proxyId: string,
    live: { id: string; parties: SessionParty[] }[],
    now: number,
  ): Promise<void> {
    return this.gate(() => {
      for (const session of live) {
        // Only the owner's word counts, and only for a session still live.
        this.db.run(
          `UPDATE sessions SET heartbeat = ?, parties = ?
           WHERE id = ? AND proxy_id = ? AND ended IS NULL`,
          now,
          JSON.stringify(session.parties),
          session.id,
          proxyId,
        );
      }
    });
  }

  listStale(time: number): Promise<SessionRecord[]> {
    return this.gate(() =>
      this.db.all(
        "SELECT * FROM sessions WHERE ended IS NULL AND coalesce(heartbeat, started) < ?",
        time,
      ).map(rows.session)
    );
  }
}

/** The `audit_events` table. */
export class SqliteAudit implements AuditStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  append(e: NewAuditEvent): Promise<AuditEvent> {
    return this.gate(() =>
      rows.auditEvent(
        this.db.get(
          `INSERT INTO audit_events (time, code, user, remote_addr, success, fields)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
          e.time,
          e.code,
          e.user,
          e.remoteAddr,
          e.success ? 1 : 0,
          JSON.stringify(e.fields),
        )!,
      )
    );
  }

  query(q: AuditQuery = {}): Promise<AuditEvent[]> {
    const params: Record<string, SQLInputValue> = {
      since: q.since ?? null,
      until: q.until ?? null,
      prefix: q.codePrefix ?? null,
      user: q.user ?? null,
      success: q.success === undefined ? null : q.success ? 1 : 0,
      limit: clampLimit(q.limit, 1000),
      offset: clampOffset(q.offset),
    };
    // Two fixed statements rather than spliced SQL; the order is the only variable.
    const order = q.order === "desc" ? "DESC" : "ASC";
    return this.gate(() =>
      this.db.all(
        `SELECT * FROM audit_events
         WHERE (:since IS NULL OR time >= :since) AND (:until IS NULL OR time < :until)
           AND (:prefix IS NULL OR substr(code, 1, length(:prefix)) = :prefix)
           AND (:user IS NULL OR user = :user) AND (:success IS NULL OR success = :success)
         ORDER BY id ${order} LIMIT :limit OFFSET :offset`,
        params,
      ).map(rows.auditEvent)
    );
  }
}

/** The `revocations` table. */
export class SqliteRevocations implements RevocationStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  add(r: Omit<Revocation, "id">): Promise<Revocation> {
    return this.gate(() =>
      rows.revocation(
        this.db.get(
          `INSERT INTO revocations (user, web_session_hash, session_id, reason, created)
           VALUES (?, ?, ?, ?, ?) RETURNING *`,
          r.user,
          r.webSessionHash,
          r.sessionId,
          r.reason,
          r.created,
        )!,
      )
    );
  }

  since(id: number, limit = 1000): Promise<Revocation[]> {
    return this.gate(() =>
      this.db.all(
        "SELECT * FROM revocations WHERE id > ? ORDER BY id LIMIT ?",
        id,
        clampLimit(limit, 1000),
      ).map(rows.revocation)
    );
  }

  lastId(): Promise<number> {
    return this.gate(() =>
      num(this.db.get("SELECT coalesce(max(id), 0) AS id FROM revocations")!.id)
    );
  }

  deleteBefore(time: number): Promise<number> {
    return this.gate(() => this.db.run("DELETE FROM revocations WHERE created < ?", time));
  }
}
