/**
 * What the PostgreSQL tables share: the query handle (the pool, or one
 * transaction's connection), the readers of their rows, and the translation of
 * PostgreSQL errors (SQLSTATE codes, lost connections) into postern's typed
 * errors.
 *
 * @module
 */

import type postgres from "postgres";
import { Unavailable } from "../../errors.ts";
import { constraintError, type ConstraintKind, type ConstraintMessages } from "../refusals.ts";
import { rowReaders } from "../rows.ts";

/** A query handle: the pool, or the connection of one transaction. */
export type Sql = postgres.Sql<{ bigint: number }>;

/**
 * BIGINT columns (times in ms, ids, sizes) as JS numbers: every value postern
 * stores is far below 2^53.
 */
export const BIGINT_AS_NUMBER = {
  bigint: {
    to: 20,
    from: [20],
    serialize: (value: number) => String(value),
    parse: (raw: string) => Number(raw),
  },
};

export { num, optNum } from "../rows.ts";

/**
 * The readers of PostgreSQL's rows: BOOLEAN and JSONB columns arrive as
 * values; `user` is a reserved word, so the user column is `user_name`.
 */
export const rows = rowReaders({
  userColumn: "user_name",
  bool: (v) => v === true,
  json: <T>(v: unknown) => v as T,
});

/** SQLSTATE of a PostgreSQL error, or the client's code for a connection error. */
function codeOf(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : null;
}

/** Serialization failure or deadlock: the transaction may simply be run again. */
export function isRetryable(e: unknown): boolean {
  const code = codeOf(e);
  return code === "40001" || code === "40P01";
}

/**
 * Runs a write, turning constraint violations into the store's typed errors:
 * a duplicate key becomes Conflict, a missing referenced row NotFound, each
 * with the caller's message.
 */
export async function explainConstraints<T>(
  write: () => Promise<T>,
  messages: ConstraintMessages,
): Promise<T> {
  try {
    return await write();
  } catch (e) {
    throw constraintError(constraintKind(e), messages, e);
  }
}

/** Which constraint a PostgreSQL error violated (SQLSTATE class 23), if any. */
function constraintKind(e: unknown): ConstraintKind {
  const code = codeOf(e);
  if (code === "23505") return "unique";
  if (code === "23503") return "foreign_key";
  return code?.startsWith("23") ? "other" : null;
}

/** Client-side codes of npm:postgres and Node for a connection that failed or broke. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/** The database could not be reached or dropped the connection: worth waiting for. */
export function isConnectionFailure(e: unknown): boolean {
  const code = codeOf(e);
  return code !== null &&
    (CONNECTION_CODES.has(code) || code.startsWith("08") || code.startsWith("57P") ||
      code === "53300");
}

/**
 * Turns a database that cannot be reached (or refuses us) into Unavailable,
 * naming `where` but never the password; passes anything else through.
 */
export function mapPostgresError(e: unknown, where: string): unknown {
  const code = codeOf(e);
  if (code === null) return e;
  const detail = e instanceof Error ? e.message : String(e);
  if (isConnectionFailure(e) && code !== "53300") {
    return new Unavailable(
      `Cannot reach the PostgreSQL database at ${where} (${detail}); postern retries on the next request`,
      { cause: e },
    );
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
    return new Unavailable(
      `PostgreSQL at ${where} presented a certificate postern does not trust (${detail}): check storage.ca_file and the host name in storage.url`,
      { cause: e },
    );
  }
  if (code === "53300") {
    return new Unavailable(
      `The PostgreSQL database at ${where} has too many connections; raise max_connections or lower storage.max_connections`,
      { cause: e },
    );
  }
  if (code === "28P01" || code === "28000") {
    return new Unavailable(
      `PostgreSQL at ${where} refused postern's login (${detail}): check the user in storage.url and the password (PGPASSWORD or storage.password_file)`,
      { cause: e },
    );
  }
  if (code === "3D000") {
    return new Unavailable(
      `${detail} at ${where}: create it (createdb) or fix the database name in storage.url`,
      { cause: e },
    );
  }
  if (isRetryable(e)) {
    return new Unavailable(
      "The database stayed too busy with conflicting changes; try again",
      { cause: e },
    );
  }
  return e;
}
