/**
 * `postern storage migrate`: moves a single-process installation's SQLite
 * store into PostgreSQL, so that several auth servers can share it.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { stringFlag, UsageError } from "./args.ts";
import { serverContext, serverFlags } from "./context.ts";

/** `sqlite:<dir>` → the data dir; anything else is a usage error. */
function sqliteDir(from: string): string {
  if (!from.startsWith("sqlite:") || from.length === "sqlite:".length) {
    throw new UsageError(`--from "${from}" is not sqlite:<data dir>`);
  }
  return from.slice("sqlite:".length);
}

export const storageCommands: Command[] = [
  {
    path: ["storage", "migrate"],
    summary: "Copy a SQLite installation into an empty PostgreSQL database",
    details: `
Stop postern first. Copies the CAs, roles, users (passwords, second factors,
locks), usable invites, nodes, web sessions, join tokens, proxies, recorded
sessions with their recordings, and the audit log. Then set
storage.type: postgres and storage.url in the config and start postern.

--from defaults to the data dir (sqlite:<data dir>); --to to storage.url.
The password comes from PGPASSWORD or --password-file, never the command line.

Example:
  PGPASSWORD=... postern storage migrate --from sqlite:/var/lib/postern \\
    --to "postgres://postern@db.example.com:5432/postern?sslmode=verify-full"
  postern users ls; postern nodes ls; postern play <session id>`,
    maxArgs: 0,
    flags: {
      ...serverFlags,
      from: { type: "string", placeholder: "sqlite:<dir>", description: "store to copy" },
      to: {
        type: "string",
        placeholder: "postgres://...",
        description: "empty PostgreSQL database",
      },
      "password-file": {
        type: "string",
        placeholder: "file",
        description: "PostgreSQL password file (else PGPASSWORD)",
      },
      "ca-file": {
        type: "string",
        placeholder: "file",
        description: "CA of the PostgreSQL server's certificate",
      },
    },
    async run(parsed) {
      const context = await serverContext({
        ...parsed,
        flags: { "log-level": "warn", ...parsed.flags },
      });
      const dir = sqliteDir(stringFlag(parsed, "from") ?? `sqlite:${context.dataDir}`);
      const url = stringFlag(parsed, "to") ?? context.config.storage.url;
      if (!url || !/^postgres(ql)?:\/\//.test(url)) {
        throw new UsageError("--to postgres://user@host:5432/db is required (or storage.url)");
      }
      const passwordFile = stringFlag(parsed, "password-file") ??
        context.config.storage.password_file;
      const { SqliteStore } = await import("../store/sqlite.ts");
      const { PostgresStore, describeDatabase } = await import("../store/postgres.ts");
      const { copyStore } = await import("../store/copy.ts");
      const { readPassword } = await import("../store/open.ts");
      try {
        await Deno.stat(`${dir}/postern.db`);
      } catch {
        throw new UsageError(`no postern.db in "${dir}": give --from sqlite:<data dir>`);
      }
      const from = SqliteStore.open(dir);
      try {
        const to = await PostgresStore.open({
          url,
          password: passwordFile ? await readPassword(passwordFile) : undefined,
          caFile: stringFlag(parsed, "ca-file") ?? context.config.storage.ca_file,
          waitMs: 5_000,
        });
        try {
          console.log(`Copying ${from.path} into ${describeDatabase(url)}...`);
          await copyStore(from, to, (kind, count) => console.log(`  ${kind}: ${count}`));
        } finally {
          await to.close();
        }
      } finally {
        await from.close();
      }
      console.log(
        "Done. Set storage.type: postgres and storage.url in the config of every auth server, then start them.",
      );
      return 0;
    },
  },
];
