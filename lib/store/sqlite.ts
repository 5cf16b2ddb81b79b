/**
 * The embedded store: one SQLite file, `postern.db`, in the data directory.
 *
 * The file is shared by the server and by admin CLI commands running in other
 * processes, so it is opened in WAL mode (readers never block the writer) with
 * a busy timeout (a writer waits for another process's write instead of
 * failing), and every multi-statement change takes the write lock up front
 * (`BEGIN IMMEDIATE`). The single-row guarantees the auth role relies on
 * (single-use invites, lockout counting, TOTP replay) are each one guarded
 * UPDATE, hence atomic across processes.
 *
 * Within one process, calls are serialised around transactions: while
 * `transaction(fn)` runs, other calls on the store wait, so they can neither
 * slip into it nor be rolled back with it.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { DatabaseSync } from "node:sqlite";
import { dirname, join } from "node:path";
import { Unavailable } from "../errors.ts";
import type { RecordingStore, Store, StoreTables } from "./store.ts";
import { TransactionView, WithTables } from "./tables.ts";
import { Db, type Gate, mapSqliteError } from "./sqlite/db.ts";
import { migrate } from "./sqlite/migrations.ts";
import { writeBackup } from "./sqlite/backup.ts";
import { storeDuration } from "../metrics/metrics.ts";
import { SqliteCas, SqliteInvites, SqliteUsers } from "./sqlite/users.ts";
import {
  SqliteAuthServers,
  SqliteJoinTokens,
  SqliteNodes,
  SqliteProxies,
  SqliteRequestNonces,
  SqliteRoles,
  SqliteWebSessions,
} from "./sqlite/nodes.ts";
import { SqliteAudit, SqliteRevocations, SqliteSessions } from "./sqlite/history.ts";
import { SqliteWebAuthn } from "./sqlite/webauthn.ts";
import { SqliteSsoRequests } from "./sqlite/sso.ts";
import { SqliteCliLogins } from "./sqlite/cli_logins.ts";
import { RecordingFiles } from "./recording_files.ts";
import { SqliteRecordingIndex } from "./sqlite/recording_index.ts";

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * How long a write waits for another process's write to finish before
   * failing with `Unavailable`. It blocks this process meanwhile: keep short.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /** @default "postern.db" */
  fileName?: string;
}

/** The tables of a store, reached through one gate. */
function sqliteTables(db: Db, gate: Gate, recordings: RecordingStore): StoreTables {
  return {
    cas: new SqliteCas(db, gate),
    users: new SqliteUsers(db, gate),
    invites: new SqliteInvites(db, gate),
    nodes: new SqliteNodes(db, gate),
    webSessions: new SqliteWebSessions(db, gate),
    sessions: new SqliteSessions(db, gate),
    audit: new SqliteAudit(db, gate),
    revocations: new SqliteRevocations(db, gate),
    proxies: new SqliteProxies(db, gate),
    joinTokens: new SqliteJoinTokens(db, gate),
    roles: new SqliteRoles(db, gate),
    webauthn: new SqliteWebAuthn(db, gate),
    ssoRequests: new SqliteSsoRequests(db, gate),
    cliLogins: new SqliteCliLogins(db, gate),
    recordings,
    requestNonces: new SqliteRequestNonces(db, gate),
    authServers: new SqliteAuthServers(db, gate),
    recordingIndex: new SqliteRecordingIndex(db, gate),
  };
}

function guarded<T>(op: () => T): T {
  try {
    return op();
  } catch (e) {
    throw mapSqliteError(e);
  }
}

/**
 * {@link Store} on SQLite.
 *
 * @example
 * ```ts
 * const store = SqliteStore.open("/var/lib/postern");
 * const alice = await store.users.get("alice");
 * store.close();
 * ```
 */
export class SqliteStore extends WithTables implements Store {
  readonly #db: Db;
  /** Knows, across awaits, whether the caller runs inside one of our transactions. */
  readonly #txContext = new AsyncLocalStorage<TxStore>();
  /** Resolves when the running transaction ends; null when none runs. */
  #running: Promise<void> | null = null;
  /** Absolute path of the database file. */
  readonly path: string;
  /** Schema version after opening. */
  readonly schemaVersion: number;

  private constructor(db: Db, path: string, schemaVersion: number) {
    const gate: Gate = async (op) => {
      this.#refuseInsideTransaction();
      const done = storeDuration.startTimer({ operation: "query" });
      try {
        while (this.#running) await this.#running;
        return guarded(op);
      } finally {
        done();
      }
    };
    super(sqliteTables(db, gate, new RecordingFiles(join(dirname(path), "recordings"))));
    this.#db = db;
    this.path = path;
    this.schemaVersion = schemaVersion;
  }

  /**
   * Opens (creating if needed) `postern.db` in `dataDir` and migrates it.
   *
   * @param dataDir the data directory; created with mode 0700 if missing
   * @param options busy timeout and file name
   * @returns the open store
   * @throws Unavailable when the file cannot be opened or stays locked
   */
  static open(dataDir: string, options: SqliteStoreOptions = {}): SqliteStore {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    const path = join(dataDir, options.fileName ?? "postern.db");
    Deno.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    createPrivateFile(path);
    let raw: DatabaseSync;
    try {
      raw = new DatabaseSync(path);
    } catch (e) {
      const message = `Cannot open the store at "${path}": check the file and its directory`;
      throw new Unavailable(message, { cause: e });
    }
    try {
      const version = guarded(() => {
        raw.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
        raw.exec("PRAGMA journal_mode = WAL");
        // NORMAL is durable across process crashes in WAL mode; only the last
        // commits may be lost on power failure, which the auth state tolerates.
        raw.exec("PRAGMA synchronous = NORMAL");
        raw.exec("PRAGMA foreign_keys = ON");
        return migrate(raw);
      });
      // SQLite gives -wal and -shm the main file's mode; make sure of all three.
      for (const p of [path, `${path}-wal`, `${path}-shm`]) chmodIfExists(p, 0o600);
      return new SqliteStore(new Db(raw), path, version);
    } catch (e) {
      raw.close();
      throw e;
    }
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    this.#refuseInsideTransaction();
    const done = storeDuration.startTimer({ operation: "transaction" });
    while (this.#running) await this.#running;
    // From here to BEGIN nothing awaits, so no other transaction can start in between.
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#running = promise;
    const tx = new TxStore(this.#db, this.recordings);
    try {
      guarded(() => this.#db.raw.exec("BEGIN IMMEDIATE"));
      try {
        const result = await this.#txContext.run(tx, () => fn(tx));
        guarded(() => this.#db.raw.exec("COMMIT"));
        return result;
      } catch (e) {
        if (this.#db.raw.isTransaction) this.#db.raw.exec("ROLLBACK");
        throw e;
      }
    } finally {
      tx.finish();
      this.#running = null;
      resolve();
      done();
    }
  }

  /**
   * A call on the store from inside a transaction function would wait for that
   * transaction to end, forever: fail loudly instead.
   */
  #refuseInsideTransaction(): void {
    if (this.#txContext.getStore()) {
      throw new Error("Cannot use the store inside its own transaction: use the `tx` argument");
    }
  }

  /**
   * Writes a consistent snapshot of the store to `path` (a new file, 0600)
   * while the store stays in use, by this and other processes.
   */
  async backup(path: string): Promise<void> {
    this.#refuseInsideTransaction();
    while (this.#running) await this.#running;
    writeBackup(this.#db.raw, path);
  }

  async ping(): Promise<void> {
    this.#refuseInsideTransaction();
    while (this.#running) await this.#running;
    guarded(() => this.#db.get("SELECT 1"));
  }

  releaseMemory(): void {
    // Pages in use by a running statement stay; the rest of the cache goes.
    if (this.#db.raw.isOpen) this.#db.raw.exec("PRAGMA shrink_memory");
  }

  close(): Promise<void> {
    this.#db.raw.close();
    return Promise.resolve();
  }
}

/** The view of the store handed to a transaction function; unusable once it has ended. */
class TxStore extends TransactionView {
  #open = true;

  constructor(db: Db, recordings: RecordingStore) {
    const gate: Gate = (op) => {
      if (!this.#open) {
        return Promise.reject(new Error("Cannot use a transaction after it has ended"));
      }
      try {
        return Promise.resolve(guarded(op));
      } catch (e) {
        return Promise.reject(e);
      }
    };
    super(sqliteTables(db, gate, recordings));
  }

  /** Makes later calls fail: the transaction they belonged to is over. */
  finish(): void {
    this.#open = false;
  }
}

function createPrivateFile(path: string): void {
  try {
    Deno.writeFileSync(path, new Uint8Array(), { createNew: true, mode: 0o600 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) {
      throw new Unavailable(`Cannot create the store at "${path}": check the data directory`, {
        cause: e,
      });
    }
  }
}

function chmodIfExists(path: string, mode: number): void {
  try {
    Deno.chmodSync(path, mode);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
