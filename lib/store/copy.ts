/**
 * Copies an installation's state from one store to another (SQLite to
 * PostgreSQL, when a single-process install grows into several auth
 * servers): CAs, roles, users with their credentials (security keys too), usable invites,
 * nodes, web sessions, join tokens, proxies, recorded sessions with their
 * recordings, and the audit log, in order. Lockout counters and the
 * revocation feed are transient and start afresh.
 *
 * @module
 */

import { Conflict, isKind } from "../errors.ts";
import type { Store } from "./store.ts";

/** What was copied, per kind. */
export type CopyCounts = Record<string, number>;

/** Audit events and sessions read per query. */
const PAGE = 1000;

/**
 * Copies everything from `from` into `to`, which must hold no users yet.
 *
 * @param progress told each kind as it is done
 * @throws Conflict when `to` already has users (copy into an empty database)
 */
export async function copyStore(
  from: Store,
  to: Store,
  progress: (kind: string, count: number) => void = () => {},
): Promise<CopyCounts> {
  if ((await to.users.list()).length > 0) {
    throw new Conflict(
      "The target store already has users: migrate into an empty database (or drop its tables first).",
    );
  }
  const counts: CopyCounts = {};
  const done = (kind: string, count: number) => {
    counts[kind] = count;
    progress(kind, count);
  };

  let cas = 0;
  for (const kind of ["user", "host", "tls"] as const) {
    const ca = await from.cas.get(kind);
    if (!ca) continue;
    const stored = await to.cas.putIfAbsent(ca);
    if (stored.publicKey !== ca.publicKey) {
      throw new Conflict(
        `The target store has another ${kind} CA: migrate into an empty database.`,
      );
    }
    cas++;
  }
  done("certificate authorities", cas);

  await to.roles.replaceAll(await from.roles.list());
  done("roles", (await from.roles.list()).length);

  const users = await from.users.list();
  for (const user of users) {
    await to.users.create(user);
    if (user.lastTotpStep > 0) await to.users.useTotpStep(user.name, user.lastTotpStep);
    if (user.adminLockUntil !== null) {
      await to.users.setAdminLock(
        user.name,
        user.adminLockUntil,
        user.adminLockReason,
        user.updated,
      );
    }
    if (user.pendingTotp) await to.users.setPendingTotp(user.name, user.pendingTotp);
    const now = Date.now();
    for (const invite of await from.invites.listForUser(user.name)) {
      if (invite.usedAt !== null || invite.expires <= now) continue;
      await to.invites.create(invite);
      counts.invites = (counts.invites ?? 0) + 1;
    }
    for (const session of await from.webSessions.listForUser(user.name)) {
      await to.webSessions.create(session);
      counts["web sessions"] = (counts["web sessions"] ?? 0) + 1;
    }
    for (const key of await from.webauthn.listForUser(user.name)) {
      await to.webauthn.create(key);
      counts["security keys"] = (counts["security keys"] ?? 0) + 1;
    }
  }
  done("users", users.length);

  const nodes = await from.nodes.list();
  for (const node of nodes) await to.nodes.upsert(node);
  done("nodes", nodes.length);

  const tokens = await from.joinTokens.list(Date.now());
  for (const token of tokens) await to.joinTokens.create(token);
  done("join tokens", tokens.length);

  const proxies = await from.proxies.list();
  for (const proxy of proxies) await to.proxies.upsert(proxy);
  done("proxies", proxies.length);

  const [sessions, recordings] = await copySessions(from, to);
  done("recorded sessions", sessions);
  done("recordings", recordings);

  let events = 0;
  for (let offset = 0;; offset += PAGE) {
    const page = await from.audit.query({ limit: PAGE, offset, order: "asc" });
    for (const { id: _id, ...event } of page) await to.audit.append(event);
    events += page.length;
    if (page.length < PAGE) break;
  }
  done("audit events", events);
  return counts;
}

/** Copies session metadata (ended sessions keep their end) and each recording's bytes. */
async function copySessions(from: Store, to: Store): Promise<[number, number]> {
  let sessions = 0;
  let recordings = 0;
  for (let offset = 0;; offset += PAGE) {
    const page = await from.sessions.list({ limit: PAGE, offset });
    for (const session of page) {
      await to.sessions.create(session);
      if (session.ended !== null) {
        await to.sessions.end(session.id, session.ended, session.exitCode);
      }
      sessions++;
      if (await copyRecording(from, to, session.id)) recordings++;
    }
    if (page.length < PAGE) break;
  }
  return [sessions, recordings];
}

async function copyRecording(from: Store, to: Store, id: string): Promise<boolean> {
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = await from.recordings.open(id);
  } catch (error) {
    if (isKind(error, "not_found")) return false;
    throw error;
  }
  let offset = 0;
  for await (const chunk of stream) offset = await to.recordings.append(id, offset, chunk);
  return true;
}
