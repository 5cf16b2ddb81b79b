/**
 * `postern backup <file>` and `postern restore <file>`: a consistent snapshot
 * of the auth store, taken while postern runs, and its restore into an
 * empty data dir.
 *
 * @module
 */

import { join } from "node:path";
import type { Command } from "./args.ts";
import { serverContext, serverFlags } from "./context.ts";
import { BadRequest, NotFound } from "../errors.ts";

const STORE_FILE = "postern.db";

const WHAT_IT_HOLDS =
  "users (password hashes, TOTP secrets), roles, nodes, the CA private keys, session metadata and the audit log";

export const backupCommand: Command = {
  path: ["backup"],
  summary: "Write a consistent snapshot of the auth store to a new file (0600)",
  usage: "<file>",
  details: `
Run on the auth host, also while postern runs: the snapshot is one
transaction's view of the store (SQLite VACUUM INTO). It holds ${WHAT_IT_HOLDS}:
anyone who has it can sign certificates for every node, so keep it as secret
as the data dir. Recordings are files in <data dir>/recordings: copy them
alongside.

Examples:
  postern backup /var/backups/postern-$(date +%F).db
  postern backup backup.db --data-dir /var/lib/postern`,
  minArgs: 1,
  maxArgs: 1,
  flags: serverFlags,
  async run(parsed) {
    const { dataDir, config } = await serverContext({
      ...parsed,
      flags: { "log-level": "warn", ...parsed.flags },
    });
    refusePostgres(config.storage.type);
    try {
      Deno.statSync(join(dataDir, STORE_FILE));
    } catch {
      throw new NotFound(
        `No store in "${dataDir}": pass the auth server's data dir with --data-dir (or its --config).`,
      );
    }
    const { SqliteStore } = await import("../store/sqlite.ts");
    const store = SqliteStore.open(dataDir);
    try {
      await store.backup(parsed.args[0]);
    } finally {
      store.close();
    }
    const { size } = await Deno.stat(parsed.args[0]);
    console.log(`wrote ${parsed.args[0]} (${size} bytes, mode 0600) from ${dataDir}`);
    console.log(`It holds ${WHAT_IT_HOLDS}: keep it secret.`);
    return 0;
  },
};

export const restoreCommand: Command = {
  path: ["restore"],
  summary: "Restore a backup into an empty data dir",
  usage: "<file>",
  details: `
Checks that the file is an intact postern backup, copies it into the data dir
(which must hold no store yet) with mode 0600, and upgrades its schema if an
older postern wrote it. Then start postern on that data dir: users log in as
before and the recordings' metadata is back (copy the recordings directory
too to replay them). The proxy's TLS certificate and SSH host key are not in
the backup: a self-signed certificate and a host key are generated on start.

Examples:
  postern restore backup.db --data-dir /var/lib/postern`,
  minArgs: 1,
  maxArgs: 1,
  flags: serverFlags,
  async run(parsed) {
    const { dataDir, config } = await serverContext({
      ...parsed,
      flags: { "log-level": "warn", ...parsed.flags },
    });
    refusePostgres(config.storage.type);
    const { restoreBackup } = await import("../store/sqlite/backup.ts");
    const path = restoreBackup(parsed.args[0], dataDir, STORE_FILE);
    console.log(`restored ${parsed.args[0]} into ${path}`);
    console.log(`next: postern start --data-dir ${dataDir}`);
    return 0;
  },
};

/** The store is PostgreSQL's to back up: its own tools do it consistently across auth servers. */
function refusePostgres(type: string): void {
  if (type === "postgres") {
    throw new BadRequest(
      "This installation keeps its store in PostgreSQL (storage.type: postgres): back it up with pg_dump (recordings are in the database too) and restore with pg_restore.",
    );
  }
}
