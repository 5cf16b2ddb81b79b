/**
 * The role table the auth role decides with, and the identity a user has
 * under it. The auth server stores its config's table at start (built-ins,
 * then config roles), so admin commands and other auth servers on the store
 * decide with the same roles, and they reload it from there. When the roles
 * change, users whose access narrowed have their live connections revoked.
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import type { Store, UserRecord } from "../store/store.ts";
import type { RevocationFeed } from "./revocation_feed.ts";
import {
  allowedLogins,
  canForwardAgent,
  canForwardPorts,
  canTransferFiles,
  defaultRoleTable,
  hasPermission,
  maxSessionTtl,
  type Permission,
  PERMISSIONS,
  requiresSessionMfa,
  resolveRoles,
  type Role,
  validateRole,
  withOptionDefaults,
} from "./roles.ts";
import type { Identity } from "./service.ts";

/** The roles of a config: built-ins, then config roles (which may override them). */
function configRoleTable(roles: Config["roles"]): Map<string, Role> {
  const table = defaultRoleTable();
  for (const role of roles) {
    table.set(
      role.name,
      validateRole({
        name: role.name,
        logins: role.logins,
        node_labels: role.node_labels,
        max_session_ttl_ms: role.max_session_ttl,
        permissions: role.permissions as Permission[],
        port_forwarding: role.port_forwarding,
        file_transfer: role.file_transfer,
        agent_forwarding: role.agent_forwarding,
        require_session_mfa: role.require_session_mfa,
      }),
    );
  }
  return table;
}

/**
 * Whether `after` allows less than `before`: a login or permission gone, or
 * port forwarding, file transfer or agent forwarding.
 */
function narrowed(before: Identity, after: Identity): boolean {
  return before.logins.some((login) => !after.logins.includes(login)) ||
    before.permissions.some((permission) => !after.permissions.includes(permission)) ||
    (before.portForwarding && !after.portForwarding) ||
    (before.fileTransfer && !after.fileTransfer) ||
    (before.agentForwarding && !after.agentForwarding);
}

/** The roles in force, over the store. */
export class RoleTable {
  /**
   * The roles by name. Always this Map object, updated in place: the node
   * registry and user admin hold it too.
   */
  readonly roles: Map<string, Role>;

  /** @param configRoles the roles of this process's config, used until stored ones load */
  constructor(
    private readonly store: Store,
    private readonly revocations: RevocationFeed,
    configRoles: Config["roles"],
    private readonly now: () => number,
  ) {
    this.roles = configRoleTable(configRoles);
  }

  /** What `user` may do under the current roles (roles not defined here grant nothing). */
  identity(user: UserRecord): Identity {
    const roles = resolveRoles(user.roles.filter((r) => this.roles.has(r)), this.roles);
    return {
      user: user.name,
      roles: user.roles,
      logins: allowedLogins(user, roles),
      permissions: PERMISSIONS.filter((p) => hasPermission(user, roles, p)),
      maxSessionTtlMs: maxSessionTtl(user, roles),
      portForwarding: canForwardPorts(user, roles),
      fileTransfer: canTransferFiles(user, roles),
      agentForwarding: canForwardAgent(user, roles),
      requireSessionMfa: requiresSessionMfa(roles),
    };
  }

  /**
   * Stores the role table of `configRoles` (built-ins and config roles; a
   * role that left the config is gone) and uses it; revokes the connections
   * of users whose access it narrowed.
   */
  async storeConfigRoles(configRoles: Config["roles"]): Promise<void> {
    const updated = this.now();
    const users = await this.store.users.list();
    const previous = new Map(this.roles);
    const before = new Map(users.map((user) => [user.name, this.identity(user)]));
    await this.store.roles.replaceAll(
      [...configRoleTable(configRoles).values()].map((role) => ({
        name: role.name,
        spec: { ...role },
        updated,
      })),
    );
    await this.loadStored();
    // Connections keep what they were authorised for: end those of users whose
    // roles now allow less (a login, a permission, port forwarding, or nodes).
    for (const user of users) {
      const nodesChanged = user.roles.some((name) =>
        JSON.stringify(previous.get(name)?.node_labels) !==
          JSON.stringify(this.roles.get(name)?.node_labels)
      );
      if (nodesChanged || narrowed(before.get(user.name)!, this.identity(user))) {
        await this.revocations.revoke(
          user.name,
          "access changed by an administrator (roles changed)",
        );
      }
    }
  }

  /** Uses the stored role table when there is one (else keeps the one in use). */
  async loadStored(): Promise<void> {
    const stored = await this.store.roles.list();
    if (stored.length === 0) return;
    this.roles.clear();
    for (const record of stored) {
      this.roles.set(record.name, validateRole(withOptionDefaults(record.spec)));
    }
  }
}
