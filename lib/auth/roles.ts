/**
 * Role-based access control: which OS logins a user may use on which nodes,
 * and which admin actions they may take. Everything is denied unless some role
 * of the user allows it; there are no deny rules.
 *
 * A user's roles are resolved once ({@link resolveRoles}) and then passed to
 * the pure decision functions below; the decisions read nothing else.
 *
 * @module
 */

import { BadRequest, NotFound } from "../errors.ts";

/** Admin actions a role may grant. */
export type Permission =
  /** Manage users and invites. */
  | "users"
  /** Register and remove nodes. */
  | "nodes"
  /** Read the audit log. */
  | "audit.read"
  /** Join other users' live sessions (own sessions need no permission). */
  | "sessions.join"
  /** Replay other users' recordings (own recordings need no permission). */
  | "sessions.replay"
  /** End other users' live sessions (own sessions need no permission). */
  | "sessions.end";

/** Every permission, for validation and for the admin role. */
export const PERMISSIONS: readonly Permission[] = Object.freeze([
  "users",
  "nodes",
  "audit.read",
  "sessions.join",
  "sessions.replay",
  "sessions.end",
]);

/** Placeholder in `Role.logins` replaced by the user's own logins. */
export const INTERNAL_LOGINS = "{{internal.logins}}";

/** A role. Field names match the YAML config. */
export interface Role {
  name: string;
  /** OS logins allowed; may contain {@link INTERNAL_LOGINS}. */
  logins: string[];
  /**
   * Nodes this role reaches: every key must be present on the node with one of
   * the listed values; value "*" accepts any value of that key; `{"*": "*"}`
   * matches every node. Empty matches no node.
   */
  node_labels: Record<string, string | string[]>;
  /** Longest certificate or session this role allows; a user gets the minimum over roles. */
  max_session_ttl_ms: number;
  permissions: Permission[];
  /** Whether the role allows SSH port forwarding (`-L`, `-R`, `-D`). */
  port_forwarding: boolean;
  /** Whether the role allows file transfer (`sftp`, `scp`) on proxy-terminated sessions. */
  file_transfer: boolean;
  /** Whether the role allows forwarding the user's ssh-agent to nodes (`ssh -A`). */
  agent_forwarding: boolean;
  /**
   * Whether every SSH connection through the gateway and every web terminal
   * needs a fresh second factor (within `auth.session_mfa_window`). Absent
   * in roles stored by older versions: false.
   */
  require_session_mfa?: boolean;
}

/** What the decisions need to know about a user. */
export interface RbacUser {
  name: string;
  /** The user's own OS logins, substituted for {@link INTERNAL_LOGINS}. */
  logins: string[];
}

const HOUR = 60 * 60 * 1000;

/**
 * The roles every cluster has, as fresh copies the caller may change.
 * - `admin`: own logins and root on all nodes; every permission.
 * - `access`: own logins on all nodes; no admin permissions (own sessions only).
 *   Both `admin` and `access` allow port forwarding, file transfer and agent
 *   forwarding.
 * - `auditor`: no logins; reads the audit log, replays recordings and joins
 *   sessions. Having no login on the node, a joining auditor can only be an
 *   observer (lib/session decides the join mode from {@link canAccessNode}).
 */
export function defaultRoles(): Role[] {
  return [{
    name: "admin",
    logins: [INTERNAL_LOGINS, "root"],
    node_labels: { "*": "*" },
    max_session_ttl_ms: 12 * HOUR,
    permissions: [...PERMISSIONS],
    port_forwarding: true,
    file_transfer: true,
    agent_forwarding: true,
  }, {
    name: "access",
    logins: [INTERNAL_LOGINS],
    node_labels: { "*": "*" },
    max_session_ttl_ms: 12 * HOUR,
    permissions: [],
    port_forwarding: true,
    file_transfer: true,
    agent_forwarding: true,
  }, {
    name: "auditor",
    logins: [],
    node_labels: {},
    max_session_ttl_ms: 12 * HOUR,
    permissions: ["audit.read", "sessions.replay", "sessions.join"],
    port_forwarding: false,
    file_transfer: false,
    agent_forwarding: false,
  }];
}

/**
 * The default roles by name, as a fresh table the config may extend.
 *
 * @returns a new map from role name to role
 * @example
 * ```ts
 * const table = defaultRoleTable();
 * for (const r of config.roles) table.set(r.name, validateRole(r));
 * ```
 */
export function defaultRoleTable(): Map<string, Role> {
  return new Map(defaultRoles().map((r) => [r.name, r]));
}

/**
 * Checks a role read from config, naming the first bad field.
 *
 * @param role the role
 * @returns the same role
 * @throws BadRequest naming the field and the expected form
 */
export function validateRole(role: Role): Role {
  const where = `role "${role.name}"`;
  // Same form as names in the config file (lib/config).
  if (typeof role.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(role.name)) {
    throw new BadRequest(
      `Invalid role name "${role.name}": use letters, digits, ".", "_" or "-" (at most 63)`,
    );
  }
  if (!Array.isArray(role.logins) || role.logins.some((l) => typeof l !== "string" || !l)) {
    throw new BadRequest(`Invalid ${where}: logins must be a list of non-empty strings`);
  }
  const labels = role.node_labels;
  if (typeof labels !== "object" || labels === null || Array.isArray(labels)) {
    throw new BadRequest(`Invalid ${where}: node_labels must be a map of label to value(s)`);
  }
  for (const [key, value] of Object.entries(labels)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0 || values.some((v) => typeof v !== "string")) {
      throw new BadRequest(
        `Invalid ${where}: node_labels.${key} must be a string or a non-empty list of strings`,
      );
    }
  }
  if (!Number.isSafeInteger(role.max_session_ttl_ms) || role.max_session_ttl_ms <= 0) {
    throw new BadRequest(`Invalid ${where}: max_session_ttl_ms must be a positive integer`);
  }
  const bad = Array.isArray(role.permissions)
    ? role.permissions.find((p) => !PERMISSIONS.includes(p))
    : undefined;
  if (!Array.isArray(role.permissions) || bad !== undefined) {
    throw new BadRequest(
      `Invalid ${where}: permissions must be a list of ${PERMISSIONS.join(", ")}` +
        (bad !== undefined ? `; got "${bad}"` : ""),
    );
  }
  for (const option of ["port_forwarding", "file_transfer", "agent_forwarding"] as const) {
    if (typeof role[option] !== "boolean") {
      throw new BadRequest(`Invalid ${where}: ${option} must be true or false`);
    }
  }
  if (role.require_session_mfa !== undefined && typeof role.require_session_mfa !== "boolean") {
    throw new BadRequest(`Invalid ${where}: require_session_mfa must be true or false`);
  }
  return role;
}

/**
 * A role as stored by an older postern, without the options added since: a
 * built-in role gets its default, any other role the option off (as a config
 * role that does not set it).
 *
 * @param spec the stored definition
 * @returns the definition with every option present
 * @example
 * ```ts
 * const role = validateRole(withOptionDefaults(record.spec));
 * ```
 */
export function withOptionDefaults(spec: Record<string, unknown>): Role {
  const builtIn = defaultRoles().find((r) => r.name === spec.name);
  return {
    file_transfer: builtIn?.file_transfer ?? false,
    agent_forwarding: builtIn?.agent_forwarding ?? false,
    ...spec,
  } as Role;
}

/**
 * Whether the user's sessions need a fresh second factor: some role requires it.
 *
 * @param roles the user's resolved roles
 * @example
 * ```ts
 * if (requiresSessionMfa(roles) && !approvedRecently) promptForCode();
 * ```
 */
export function requiresSessionMfa(roles: readonly Role[]): boolean {
  return roles.some((r) => r.require_session_mfa === true);
}

/**
 * Looks up a user's role names.
 *
 * @param names role names from the user record
 * @param roleTable the known roles
 * @returns the roles, in the order named, without duplicates
 * @throws NotFound naming the unknown role and the known ones
 * @example
 * ```ts
 * const roles = resolveRoles(user.roles, roleTable);
 * ```
 */
export function resolveRoles(
  names: readonly string[],
  roleTable: ReadonlyMap<string, Role>,
): Role[] {
  const roles: Role[] = [];
  for (const name of new Set(names)) {
    const role = roleTable.get(name);
    if (!role) {
      const known = [...roleTable.keys()].sort().map((n) => `"${n}"`).join(", ");
      throw new NotFound(`Unknown role "${name}": known roles are ${known}`);
    }
    roles.push(role);
  }
  return roles;
}

function roleLogins(user: RbacUser, role: Role): string[] {
  return role.logins.flatMap((l) => l === INTERNAL_LOGINS ? user.logins : [l]).filter((l) => l);
}

function labelsMatch(selector: Role["node_labels"], nodeLabels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  if (selector["*"] === "*" || (Array.isArray(selector["*"]) && selector["*"].includes("*"))) {
    return true;
  }
  return entries.every(([key, want]) => {
    if (!Object.hasOwn(nodeLabels, key)) return false;
    const values = Array.isArray(want) ? want : [want];
    return values.includes("*") || values.includes(nodeLabels[key]);
  });
}

/**
 * The logins a user may request in a certificate: the union over roles, with
 * {@link INTERNAL_LOGINS} expanded.
 *
 * @param user the user
 * @param roles the user's resolved roles
 * @returns sorted, without duplicates
 * @example
 * ```ts
 * allowedLogins({ name: "alice", logins: ["alice"] }, [admin]); // ["alice", "root"]
 * ```
 */
export function allowedLogins(user: RbacUser, roles: readonly Role[]): string[] {
  return [...new Set(roles.flatMap((r) => roleLogins(user, r)))].sort();
}

/**
 * Whether the user may log in as `login` on a node with these labels. One role
 * must allow both: a role granting the login elsewhere does not combine with
 * another role that reaches the node with other logins.
 *
 * @param user the user
 * @param roles the user's resolved roles
 * @param nodeLabels the node's labels
 * @param login the OS login requested
 * @returns true when allowed
 * @example
 * ```ts
 * if (!canAccessNode(user, roles, node.labels, "root")) throw new AccessDenied(...);
 * ```
 */
export function canAccessNode(
  user: RbacUser,
  roles: readonly Role[],
  nodeLabels: Record<string, string>,
  login: string,
): boolean {
  return roles.some((r) =>
    roleLogins(user, r).includes(login) && labelsMatch(r.node_labels, nodeLabels)
  );
}

/**
 * Whether some role of the user grants `perm`.
 *
 * @param _user the user (decisions all take the same arguments; this one needs only the roles)
 * @param roles the user's resolved roles
 * @param perm the permission
 * @returns true when granted
 */
export function hasPermission(_user: RbacUser, roles: readonly Role[], perm: Permission): boolean {
  return roles.some((r) => r.permissions.includes(perm));
}

/**
 * The longest certificate or session the user may get: the minimum over the
 * user's roles (as Teleport does), so adding a restrictive role restricts.
 *
 * @param _user the user (see {@link hasPermission})
 * @param roles the user's resolved roles
 * @returns milliseconds; 0 when the user has no role (nothing is allowed)
 */
export function maxSessionTtl(_user: RbacUser, roles: readonly Role[]): number {
  if (roles.length === 0) return 0;
  return Math.min(...roles.map((r) => r.max_session_ttl_ms));
}

/**
 * Whether the user may forward ports (`ssh -L/-R/-D`): some role must allow it.
 * The answer goes into the user's certificates (`permit-port-forwarding`), so
 * nodes reached end to end enforce it too.
 *
 * @param _user the user (see {@link hasPermission})
 * @param roles the user's resolved roles
 * @returns true when some role allows port forwarding
 * @example
 * ```ts
 * const extensions = canForwardPorts(user, roles) ? withForwarding : withoutForwarding;
 * ```
 */
export function canForwardPorts(_user: RbacUser, roles: readonly Role[]): boolean {
  return roles.some((r) => r.port_forwarding);
}

/**
 * Whether the user may transfer files (`sftp`, `scp`) in proxy-terminated
 * sessions: some role must allow it.
 *
 * @param _user the user (see {@link hasPermission})
 * @param roles the user's resolved roles
 * @returns true when some role allows file transfer
 * @example
 * ```ts
 * if (!canTransferFiles(user, roles)) throw new AccessDenied("...");
 * ```
 */
export function canTransferFiles(_user: RbacUser, roles: readonly Role[]): boolean {
  return roles.some((r) => r.file_transfer);
}

/**
 * Whether the user may forward their ssh-agent to nodes (`ssh -A`): some role
 * must allow it. The answer goes into the user's certificates
 * (`permit-agent-forwarding`), so nodes reached end to end enforce it too.
 *
 * @param _user the user (see {@link hasPermission})
 * @param roles the user's resolved roles
 * @returns true when some role allows agent forwarding
 * @example
 * ```ts
 * const permits = { agentForwarding: canForwardAgent(user, roles), portForwarding: false };
 * ```
 */
export function canForwardAgent(_user: RbacUser, roles: readonly Role[]): boolean {
  return roles.some((r) => r.agent_forwarding);
}
