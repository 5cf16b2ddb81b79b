/**
 * Opens the store the config names: SQLite in the data dir by default,
 * PostgreSQL with `storage.type: postgres`.
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import { BadRequest } from "../errors.ts";
import type { Logger } from "../log.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** Reads `storage.password_file`, trimmed; the password never reaches a log. */
export async function readPassword(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (e) {
    throw new BadRequest(
      `Cannot read storage.password_file "${path}": ${(e as Error).message}`,
    );
  }
}

/**
 * Opens (and migrates) the configured store.
 *
 * @param options.log told while a PostgreSQL server is awaited
 * @throws Unavailable when the database cannot be reached in time
 */
export async function openStore(
  options: { config: Config; dataDir: string; log: Logger },
): Promise<Store> {
  const { storage } = options.config;
  if (storage.type === "sqlite") return SqliteStore.open(options.dataDir);
  // Loaded only here: a SQLite installation never pays for the driver's memory.
  const { PostgresStore } = await import("./postgres.ts");
  return await PostgresStore.open({
    url: storage.url!,
    password: storage.password_file ? await readPassword(storage.password_file) : undefined,
    caFile: storage.ca_file,
    maxConnections: storage.max_connections,
    onWait: (message, retryInMs) =>
      options.log.warn("waiting for the database", { error: message, retry_in_ms: retryInMs }),
  });
}
