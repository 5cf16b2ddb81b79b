/**
 * Administration on behalf of a user: which permission each {@link AuthAdmin}
 * call needs, and a wrapper that checks it and names the user as the actor.
 * The web UI's admin pages reach auth through it, in process and over the
 * Auth API alike, so a proxy cannot administer without a user who may.
 *
 * @module
 */

import type { Permission } from "./roles.ts";
import type { AuthAdmin } from "./service.ts";

/** For each admin call: the permission it needs, and which argument names the actor. */
export const ADMIN_CALLS: Readonly<
  Record<keyof AuthAdmin, { permission: Permission | null; actorArg?: number }>
> = Object.freeze({
  addUser: { permission: "users", actorArg: 1 },
  listUsers: { permission: "users" },
  getUser: { permission: "users" },
  updateUser: { permission: "users", actorArg: 2 },
  endUserWebSession: { permission: "users", actorArg: 2 },
  removeUser: { permission: "users", actorArg: 1 },
  lockUser: { permission: "users", actorArg: 2 },
  unlockUser: { permission: "users", actorArg: 1 },
  resetUser: { permission: "users", actorArg: 2 },
  addNode: { permission: "nodes", actorArg: 1 },
  listAllNodes: { permission: "nodes" },
  removeNode: { permission: "nodes", actorArg: 1 },
  signHostCertificate: { permission: "nodes" },
  setupScript: { permission: "nodes" },
  userCaLine: { permission: null },
  auditEvents: { permission: "audit.read" },
  addJoinToken: { permission: "users", actorArg: 2 },
  listJoinTokens: { permission: "users" },
  removeJoinToken: { permission: "users", actorArg: 1 },
  listProxies: { permission: "nodes" },
  removeProxy: { permission: "nodes", actorArg: 1 },
  clusterCa: { permission: null },
  clusterStatus: { permission: "nodes" },
});

/**
 * Calls `method` of `admin` as `actor` would: the actor argument (when the
 * call has one) is replaced, whatever the caller passed.
 */
export function callAs(
  admin: AuthAdmin,
  method: keyof AuthAdmin,
  args: unknown[],
  actor: string,
): Promise<unknown> {
  const call = ADMIN_CALLS[method];
  const actual = [...args];
  if (call.actorArg !== undefined) {
    while (actual.length < call.actorArg) actual.push(undefined);
    actual[call.actorArg] = actor;
  }
  return (admin[method] as (...a: unknown[]) => Promise<unknown>).apply(admin, actual);
}

/**
 * `admin` restricted to what a user may do: `authorize` checks the call's
 * permission (throwing AccessDenied) and returns the user's name.
 */
export function scopedAdmin(
  admin: AuthAdmin,
  authorize: (permission: Permission | null) => Promise<string>,
): AuthAdmin {
  const scoped = {} as Record<keyof AuthAdmin, unknown>;
  for (const method of Object.keys(ADMIN_CALLS) as (keyof AuthAdmin)[]) {
    scoped[method] = async (...args: unknown[]) =>
      await callAs(admin, method, args, await authorize(ADMIN_CALLS[method].permission));
  }
  return scoped as unknown as AuthAdmin;
}
