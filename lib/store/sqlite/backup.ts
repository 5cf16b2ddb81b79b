/**
 * Backups of the SQLite store: a consistent snapshot written with
 * `VACUUM INTO` while postern keeps running (readers and writers go on; the
 * snapshot is one transaction's view), and its restore into an empty data
 * directory after checking that the file is an intact postern store.
 *
 * The snapshot holds everything auth keeps: users with their password hashes
 * and TOTP secrets, roles, nodes, web sessions, the CA private keys, session
 * metadata and the audit log. It is written 0600; keep it as secret as the
 * data directory itself.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { BadRequest, Conflict, Unavailable } from "../../errors.ts";
import { migrate } from "./migrations.ts";

/**
 * Writes a snapshot of `db` to `path`, a file that must not exist yet (created 0600).
 *
 * @throws Conflict when `path` exists; Unavailable when it cannot be written
 */
export function writeBackup(db: DatabaseSync, path: string): void {
  try {
    Deno.writeFileSync(path, new Uint8Array(), { createNew: true, mode: 0o600 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new Conflict(`Cannot write the backup: "${path}" exists; choose a new file name.`);
    }
    throw new Unavailable(`Cannot write the backup "${path}": ${String(error)}`, { cause: error });
  }
  try {
    db.prepare("VACUUM INTO ?").run(path);
  } catch (error) {
    Deno.removeSync(path);
    throw new Unavailable(`Cannot write the backup "${path}": ${String(error)}`, { cause: error });
  }
}

/** Whether `path` exists. */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Refuses a file that is not an intact postern store. */
function checkBackup(file: string): void {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { readOnly: true });
  } catch (error) {
    throw new BadRequest(`Cannot read the backup "${file}": ${String(error)}`, { cause: error });
  }
  try {
    const check = db.prepare("PRAGMA integrity_check").get() as { integrity_check?: string };
    const isStore = db.prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
    ).get();
    if (check.integrity_check !== "ok" || !isStore) throw new Error("not a postern store");
  } catch (error) {
    throw new BadRequest(
      `Cannot restore "${file}": it is not an intact postern backup (${
        error instanceof Error ? error.message : String(error)
      }).`,
      { cause: error },
    );
  } finally {
    db.close();
  }
}

/**
 * Restores a backup as `<dataDir>/<fileName>` (0600), migrating it when an
 * older postern wrote it. The data dir must hold no store yet.
 *
 * @throws Conflict when the data dir has a store; BadRequest when `file` is not a postern backup
 */
export function restoreBackup(file: string, dataDir: string, fileName = "postern.db"): string {
  const target = join(dataDir, fileName);
  if (exists(target)) {
    throw new Conflict(
      `Cannot restore into "${dataDir}": it already has a store (${fileName}). Restore into an empty data dir (--data-dir), or move the old one away first.`,
    );
  }
  checkBackup(file);
  Deno.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  Deno.copyFileSync(file, target);
  Deno.chmodSync(target, 0o600); // inside the 0700 data dir meanwhile
  const db = new DatabaseSync(target);
  try {
    migrate(db);
  } finally {
    db.close();
  }
  return target;
}
