/**
 * The store on PostgreSQL, for several auth servers on one database: each
 * opens a small connection pool, and the database, not any one process,
 * keeps every guarantee (single-use invites and join tokens, lockout
 * counting, TOTP replay) with guarded statements and row locks.
 *
 * A database that cannot be reached is `Unavailable` (auth answers 503 and
 * `/readyz` says why); the pool reconnects on the next query. Opening waits
 * for the database with backoff, since auth servers often start before it.
 *
 * @module
 */

import postgres from "postgres";
import { Unavailable } from "../errors.ts";
import { storeDuration } from "../metrics/metrics.ts";
import type { Store, StoreTables } from "./store.ts";
import { TransactionView, WithTables } from "./tables.ts";
import {
  BIGINT_AS_NUMBER,
  isConnectionFailure,
  isRetryable,
  mapPostgresError,
  type Sql,
} from "./postgres/db.ts";
import { migratePostgres } from "./postgres/migrations.ts";
import { type InTransaction, PgCas, PgInvites, PgUsers } from "./postgres/users.ts";
import {
  PgAuthServers,
  PgJoinTokens,
  PgNodes,
  PgProxies,
  PgRequestNonces,
  PgRoles,
  PgWebSessions,
} from "./postgres/nodes.ts";
import { PgAudit, PgRevocations, PgSessions } from "./postgres/history.ts";
import { PgRecordings } from "./postgres/recordings.ts";
import { PgWebAuthn } from "./postgres/webauthn.ts";
import { PgSsoRequests } from "./postgres/sso.ts";
import { PgCliLogins } from "./postgres/cli_logins.ts";
import { PgRecordingIndex } from "./postgres/recording_index.ts";

/** Options of {@link PostgresStore.open}. */
export interface PostgresStoreOptions {
  /** `postgres://user@host:5432/db?sslmode=verify-full`; a password here works but is better elsewhere. */
  url: string;
  /** The password; else the URL's, else `PGPASSWORD`. */
  password?: string;
  /** PEM file of the CA that signed the server's certificate (verify-full / verify-ca). */
  caFile?: string;
  /** @default 10 */
  maxConnections?: number;
  /** How long opening waits for an unreachable database. @default 60000 */
  waitMs?: number;
  /** Told about each failed attempt while opening waits. */
  onWait?: (message: string, retryInMs: number) => void;
}

/** Attempts of a transaction that hit a serialization failure or deadlock. */
const TRANSACTION_ATTEMPTS = 4;

/** Where the database is, for messages: never the password. */
export function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return "(unparsable storage.url)";
  }
}

/** Wraps every method of a table so that database errors become postern's. */
function guarded<T extends object>(table: T, where: string): T {
  return new Proxy(table, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const done = storeDuration.startTimer({ operation: "query" });
        try {
          const result = value.apply(target, args);
          return result instanceof Promise
            ? result.catch((e: unknown) => Promise.reject(mapPostgresError(e, where)))
              .finally(done)
            : (done(), result);
        } catch (e) {
          done();
          return Promise.reject(mapPostgresError(e, where));
        }
      };
    },
  });
}

/** The tables, over the pool or over one transaction, each {@link guarded}. */
function pgTables(sql: Sql, inTransaction: InTransaction, where: string): StoreTables {
  const tables: StoreTables = {
    cas: new PgCas(sql),
    users: new PgUsers(sql, inTransaction),
    invites: new PgInvites(sql),
    nodes: new PgNodes(sql),
    webSessions: new PgWebSessions(sql),
    sessions: new PgSessions(sql, inTransaction),
    audit: new PgAudit(sql),
    revocations: new PgRevocations(sql, inTransaction),
    proxies: new PgProxies(sql),
    joinTokens: new PgJoinTokens(sql),
    roles: new PgRoles(sql, inTransaction),
    webauthn: new PgWebAuthn(sql),
    ssoRequests: new PgSsoRequests(sql),
    cliLogins: new PgCliLogins(sql),
    recordings: new PgRecordings(sql, inTransaction),
    requestNonces: new PgRequestNonces(sql),
    authServers: new PgAuthServers(sql),
    recordingIndex: new PgRecordingIndex(sql, inTransaction),
  };
  return Object.fromEntries(
    Object.entries(tables).map(([name, table]) => [name, guarded(table, where)]),
  ) as StoreTables;
}

/**
 * {@link Store} on PostgreSQL.
 *
 * @example
 * ```ts
 * const store = await PostgresStore.open({ url: "postgres://postern@db:5432/postern" });
 * const alice = await store.users.get("alice");
 * await store.close();
 * ```
 */
export class PostgresStore extends WithTables implements Store {
  /** Schema version after opening. */
  readonly schemaVersion: number;

  private constructor(
    private readonly sql: Sql,
    private readonly where: string,
    schemaVersion: number,
  ) {
    super(pgTables(sql, (fn) => runTransaction(sql, fn), where));
    this.schemaVersion = schemaVersion;
  }

  /**
   * Connects, waiting with backoff while the database cannot be reached, and
   * migrates the schema (once, whichever auth server gets there first).
   *
   * @throws Unavailable when the database stays unreachable or refuses the login;
   *   Conflict when its schema is newer than this postern
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const where = describeDatabase(options.url);
    const sql = postgres(options.url, {
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.caFile ? { ssl: await tlsOptions(options.url, options.caFile) } : {}),
      max: options.maxConnections ?? 10,
      connect_timeout: 10,
      idle_timeout: 300,
      onnotice: () => {},
      connection: { application_name: "postern" },
      types: BIGINT_AS_NUMBER,
    }) as unknown as Sql;
    const deadline = Date.now() + (options.waitMs ?? 60_000);
    for (let delay = 250;; delay = Math.min(delay * 2, 5_000)) {
      try {
        return new PostgresStore(sql, where, await migratePostgres(sql));
      } catch (e) {
        const error = mapPostgresError(e, where);
        if (!isConnectionFailure(e) || Date.now() + delay > deadline) {
          await sql.end({ timeout: 1 }).catch(() => {});
          throw error;
        }
        options.onWait?.((error as Error).message, delay);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    const done = storeDuration.startTimer({ operation: "transaction" });
    return runTransaction(this.sql, (tx) => fn(transactionView(tx, this.where)))
      .catch((e: unknown) => Promise.reject(mapPostgresError(e, this.where)))
      .finally(done);
  }

  async ping(): Promise<void> {
    try {
      await this.sql`SELECT 1`;
    } catch (e) {
      throw mapPostgresError(e, this.where);
    }
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

/** Runs `fn` in a transaction, again when the database asks for it (deadlock, serialization). */
async function runTransaction<T>(sql: Sql, fn: (tx: Sql) => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await sql.begin((tx) => fn(tx as unknown as Sql)) as T;
    } catch (e) {
      if (!isRetryable(e) || attempt >= TRANSACTION_ATTEMPTS) throw e;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt * Math.random()));
    }
  }
}

/** The view of the store handed to a transaction function: the tables over its connection. */
function transactionView(tx: Sql, where: string): Store {
  return new TransactionView(pgTables(tx, (fn) => fn(tx), where));
}

/** TLS that checks the server's certificate against `caFile` (and its name unless verify-ca). */
async function tlsOptions(url: string, caFile: string): Promise<object> {
  let ca: string;
  try {
    ca = await Deno.readTextFile(caFile);
  } catch (e) {
    throw new Unavailable(`Cannot read storage.ca_file "${caFile}": ${(e as Error).message}`);
  }
  const mode = new URL(url).searchParams.get("sslmode");
  return {
    ca,
    rejectUnauthorized: true,
    ...(mode === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
  };
}
