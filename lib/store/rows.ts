/**
 * Reading database rows into store records, shared by the SQLite and
 * PostgreSQL backends: typed column readers, and the mappers of tables whose
 * columns are the same on both (text and integer columns only; tables with
 * booleans, JSON or the `user` column differ per backend and map there).
 *
 * @module
 */

import type {
  AuthServerRecord,
  CaKind,
  CaRecord,
  JoinTokenKind,
  JoinTokenRecord,
  ProxyRecord,
  SecretHash,
} from "./store.ts";

/** A row as a driver returns it, by column name. */
export type Row = Record<string, unknown>;

/** A string column. */
export function str(v: unknown): string {
  if (typeof v !== "string") throw new TypeError(`Expected a text column, got ${typeof v}`);
  return v;
}

/** A nullable string column. */
export function optStr(v: unknown): string | null {
  return v === null ? null : str(v);
}

/** An integer column (node:sqlite may return a bigint). */
export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw new TypeError(`Expected an integer column, got ${typeof v}`);
}

/** A nullable integer column. */
export function optNum(v: unknown): number | null {
  return v === null ? null : num(v);
}

/** A `cas` row. */
export function toCa(r: Row): CaRecord {
  return {
    kind: str(r.kind) as CaKind,
    privateKey: str(r.private_key),
    publicKey: str(r.public_key),
    created: num(r.created),
  };
}

/** A `join_tokens` row. */
export function toJoinToken(r: Row): JoinTokenRecord {
  return {
    tokenHash: str(r.token_hash) as SecretHash,
    kind: str(r.kind) as JoinTokenKind,
    created: num(r.created),
    expires: num(r.expires),
  };
}

/** A `proxies` row. */
export function toProxy(r: Row): ProxyRecord {
  return {
    id: str(r.id),
    publicAddr: str(r.public_addr),
    sshPublicAddr: str(r.ssh_public_addr),
    peerAddr: optStr(r.peer_addr),
    lastSeen: num(r.last_seen),
  };
}

/** An `auth_servers` row. */
export function toAuthServer(r: Row): AuthServerRecord {
  return {
    id: str(r.id),
    addr: str(r.addr),
    version: str(r.version),
    started: num(r.started),
    lastSeen: num(r.last_seen),
  };
}
