/**
 * Small helpers shared by the SQLite tables: a statement cache, the readers of
 * their rows and the translation of SQLite errors into postern's typed errors.
 *
 * @module
 */

import type { DatabaseSync, SQLInputValue, SQLOutputValue, StatementSync } from "node:sqlite";
import { Unavailable } from "../../errors.ts";
import { constraintError, type ConstraintKind, type ConstraintMessages } from "../refusals.ts";
import { num, rowReaders, str } from "../rows.ts";

/** A row as node:sqlite returns it. */
export type Row = Record<string, SQLOutputValue>;

/** Parameters of a statement: positional, or one object of named values. */
export type Params = SQLInputValue[] | [Record<string, SQLInputValue>];

/**
 * Runs one synchronous database operation when the store may be used: at once
 * inside a transaction, after the running transaction otherwise.
 */
export type Gate = <T>(op: () => T) => Promise<T>;

/** A connection with a cache of prepared statements. */
export class Db {
  readonly #stmts = new Map<string, StatementSync>();

  /** @param raw the open connection */
  constructor(readonly raw: DatabaseSync) {}

  /** The cached prepared statement for `sql`. */
  stmt(sql: string): StatementSync {
    let stmt = this.#stmts.get(sql);
    if (!stmt) {
      stmt = this.raw.prepare(sql);
      this.#stmts.set(sql, stmt);
    }
    return stmt;
  }

  /** First row, or undefined. */
  get(sql: string, ...params: Params): Row | undefined {
    return this.stmt(sql).get(...(params as SQLInputValue[])) as Row | undefined;
  }

  /**
   * The first row as `read` turns it into a record, or null when there is none.
   *
   * @example
   * ```ts
   * const user = db.find(rows.user, "SELECT * FROM users WHERE name = ?", name);
   * ```
   */
  find<T>(read: (row: Row) => T, sql: string, ...params: Params): T | null {
    const row = this.get(sql, ...params);
    return row ? read(row) : null;
  }

  /** All rows. */
  all(sql: string, ...params: Params): Row[] {
    return this.stmt(sql).all(...(params as SQLInputValue[])) as Row[];
  }

  /** Runs a change; returns how many rows it changed. */
  run(sql: string, ...params: Params): number {
    return Number(this.stmt(sql).run(...(params as SQLInputValue[])).changes);
  }
}

export { num, optNum, str } from "../rows.ts";

/** The readers of SQLite's rows: booleans are 0/1, JSON is text. */
export const rows = rowReaders({
  userColumn: "user",
  bool: (v) => num(v) !== 0,
  json: <T>(v: unknown) => JSON.parse(str(v)) as T,
});

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CONSTRAINT = 19;
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

function errcode(e: unknown): number | null {
  const code = (e as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" ? code : null;
}

/** What kind of constraint a SQLite error violated, if any. */
export function constraintKind(e: unknown): ConstraintKind {
  const code = errcode(e);
  if (code === null || (code & 0xff) !== SQLITE_CONSTRAINT) return null;
  if (code === SQLITE_CONSTRAINT_UNIQUE || code === SQLITE_CONSTRAINT_PRIMARYKEY) return "unique";
  if (code === SQLITE_CONSTRAINT_FOREIGNKEY) return "foreign_key";
  return "other";
}

/**
 * Runs a write, turning constraint violations into the store's typed errors:
 * a duplicate key becomes Conflict, a missing referenced row NotFound, each
 * with the caller's message.
 */
export function explainConstraints<T>(
  write: () => T,
  messages: ConstraintMessages,
): T {
  try {
    return write();
  } catch (e) {
    throw constraintError(constraintKind(e), messages, e);
  }
}

/** Turns "database is busy/locked" into Unavailable; passes anything else through. */
export function mapSqliteError(e: unknown): unknown {
  const code = errcode(e);
  if (code !== null && ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED)) {
    return new Unavailable(
      "Cannot use the store: the database stayed locked by another postern process; try again",
      { cause: e },
    );
  }
  return e;
}
