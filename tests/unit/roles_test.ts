import assert from "node:assert/strict";
import { isKind } from "../../lib/errors.ts";
import {
  allowedLogins,
  canAccessNode,
  canForwardAgent,
  canForwardPorts,
  canTransferFiles,
  defaultRoles,
  defaultRoleTable,
  hasPermission,
  INTERNAL_LOGINS,
  maxSessionTtl,
  type Permission,
  PERMISSIONS,
  resolveRoles,
  type Role,
  validateRole,
  withOptionDefaults,
} from "../../lib/auth/roles.ts";

const HOUR = 3_600_000;

function role(name: string, r: Partial<Role>): Role {
  return {
    name,
    logins: [],
    node_labels: {},
    max_session_ttl_ms: HOUR,
    permissions: [],
    port_forwarding: false,
    file_transfer: false,
    agent_forwarding: false,
    ...r,
  };
}

const TABLE = defaultRoleTable();
for (
  const r of [
    role("dev", {
      logins: ["dev", INTERNAL_LOGINS],
      node_labels: { env: ["dev", "staging"] },
      max_session_ttl_ms: 8 * HOUR,
    }),
    role("prod-ro", { logins: ["readonly"], node_labels: { env: "prod" } }),
    role("db", { logins: ["postgres"], node_labels: { env: "prod", team: "db" } }),
    role("anyenv", { logins: ["ops"], node_labels: { env: "*" } }),
    role("nolabels", { logins: ["x"] }),
  ]
) TABLE.set(r.name, validateRole(r));

const alice = { name: "alice", logins: ["alice"] };
const bob = { name: "bob", logins: [] };

Deno.test("canAccessNode() decides by one role allowing both login and labels", () => {
  const prod = { env: "prod" };
  const cases: [string, string[], typeof alice, Record<string, string>, string, boolean][] = [
    ["admin: root anywhere", ["admin"], alice, prod, "root", true],
    ["admin: own login on an unlabelled node", ["admin"], alice, {}, "alice", true],
    ["admin: someone else's login", ["admin"], alice, prod, "bob", false],
    ["access: own login", ["access"], alice, prod, "alice", true],
    ["access: root", ["access"], alice, prod, "root", false],
    ["auditor: no logins at all", ["auditor"], alice, prod, "alice", false],
    ["no roles: deny", [], alice, prod, "alice", false],
    ["dev: listed value", ["dev"], alice, { env: "dev" }, "dev", true],
    ["dev: second listed value", ["dev"], alice, { env: "staging" }, "dev", true],
    ["dev: unlisted value", ["dev"], alice, prod, "dev", false],
    ["dev: expanded own login", ["dev"], alice, { env: "dev" }, "alice", true],
    ["dev: node lacks the label", ["dev"], alice, { team: "dev" }, "dev", false],
    ["prod-ro: its login on prod", ["prod-ro"], alice, prod, "readonly", true],
    ["dev+prod-ro: dev's login on prod's nodes", ["dev", "prod-ro"], alice, prod, "dev", false],
    [
      "dev+prod-ro: prod's login on dev's nodes",
      ["dev", "prod-ro"],
      alice,
      { env: "dev" },
      "readonly",
      false,
    ],
    ["dev+prod-ro: each role's own pair", ["dev", "prod-ro"], alice, prod, "readonly", true],
    ["db: all keys match", ["db"], alice, { env: "prod", team: "db" }, "postgres", true],
    ["db: one key differs", ["db"], alice, { env: "prod", team: "web" }, "postgres", false],
    ["db: one key missing", ["db"], alice, prod, "postgres", false],
    ["anyenv: any value of the key", ["anyenv"], alice, { env: "qa-7" }, "ops", true],
    ["anyenv: key absent", ["anyenv"], alice, { zone: "a" }, "ops", false],
    ["nolabels: empty selector matches nothing", ["nolabels"], alice, {}, "x", false],
    ["access: user without own logins", ["access"], bob, prod, "bob", false],
    ["access: the empty login", ["access"], bob, prod, "", false],
    ["access: the placeholder is not a login", ["access"], alice, prod, INTERNAL_LOGINS, false],
  ];
  for (const [name, roleNames, user, labels, login, expected] of cases) {
    assert.equal(
      canAccessNode(user, resolveRoles(roleNames, TABLE), labels, login),
      expected,
      name,
    );
  }
});

Deno.test("allowedLogins() is the expanded, sorted, deduplicated union", () => {
  const cases: [string[], typeof alice, string[]][] = [
    [["admin"], alice, ["alice", "root"]],
    [["access", "admin"], alice, ["alice", "root"]],
    [["dev", "prod-ro"], alice, ["alice", "dev", "readonly"]],
    [["auditor"], alice, []],
    [["access"], bob, []],
    [[], alice, []],
  ];
  for (const [roleNames, user, expected] of cases) {
    assert.deepEqual(
      allowedLogins(user, resolveRoles(roleNames, TABLE)),
      expected,
      roleNames.join(),
    );
  }
});

Deno.test("hasPermission() grants only what some role lists", () => {
  const cases: [string[], Permission, boolean][] = [
    ...PERMISSIONS.map((p): [string[], Permission, boolean] => [["admin"], p, true]),
    ...PERMISSIONS.map((p): [string[], Permission, boolean] => [["access"], p, false]),
    [["auditor"], "audit.read", true],
    [["auditor"], "sessions.replay", true],
    [["auditor"], "sessions.join", true],
    [["auditor"], "users", false],
    [["auditor"], "nodes", false],
    [["access", "auditor"], "audit.read", true],
    [[], "audit.read", false],
  ];
  for (const [roleNames, perm, expected] of cases) {
    assert.equal(
      hasPermission(alice, resolveRoles(roleNames, TABLE), perm),
      expected,
      `${roleNames} ${perm}`,
    );
  }
});

Deno.test("maxSessionTtl() is the minimum over the user's roles", () => {
  assert.equal(maxSessionTtl(alice, resolveRoles(["admin"], TABLE)), 12 * HOUR);
  assert.equal(maxSessionTtl(alice, resolveRoles(["admin", "dev"], TABLE)), 8 * HOUR);
  assert.equal(maxSessionTtl(alice, resolveRoles(["dev", "prod-ro", "admin"], TABLE)), HOUR);
  assert.equal(maxSessionTtl(alice, []), 0);
});

Deno.test("resolveRoles() names the unknown role and drops duplicates", () => {
  assert.deepEqual(resolveRoles(["access", "access"], TABLE).map((r) => r.name), ["access"]);
  assert.throws(
    () => resolveRoles(["access", "superuser"], TABLE),
    (e) => isKind(e, "not_found") && /"superuser"/.test(e.message) && /"admin"/.test(e.message),
  );
});

Deno.test("validateRole() names the bad field", () => {
  const ok = role("ok", { logins: ["a"], node_labels: { env: ["x", "y"] } });
  assert.equal(validateRole(ok), ok);
  const cases: [Partial<Role>, RegExp][] = [
    [{ name: "Bad Name" }, /role name/],
    [{ logins: [""] }, /logins/],
    [{ node_labels: [] as unknown as Role["node_labels"] }, /node_labels/],
    [{ node_labels: { env: [] } }, /node_labels\.env/],
    [{ max_session_ttl_ms: 0 }, /max_session_ttl_ms/],
    [{ permissions: ["root" as Permission] }, /permissions.*"root"/],
    [{ permissions: "users" as unknown as Permission[] }, /permissions/],
    [{ port_forwarding: "yes" as unknown as boolean }, /port_forwarding/],
    [{ file_transfer: 1 as unknown as boolean }, /file_transfer/],
    [{ agent_forwarding: undefined }, /agent_forwarding/],
  ];
  for (const [patch, message] of cases) {
    assert.throws(
      () => validateRole({ ...ok, ...patch }),
      (e) => isKind(e, "bad_request") && message.test(e.message),
      JSON.stringify(patch),
    );
  }
});

Deno.test("defaultRoles() returns copies that validate", () => {
  const roles = defaultRoles();
  assert.deepEqual(roles.map((r) => r.name), ["admin", "access", "auditor"]);
  roles.forEach(validateRole);
  roles[0].logins.push("mallory");
  assert.deepEqual(defaultRoles()[0].logins, [INTERNAL_LOGINS, "root"]);
});

Deno.test("canForwardPorts() is allowed when some role allows it, denied otherwise", () => {
  const table = defaultRoleTable();
  table.set("tunnels", role("tunnels", { port_forwarding: true }));
  table.set("plain", role("plain", {}));
  const cases: [string[], boolean][] = [
    [["admin"], true],
    [["access"], true],
    [["auditor"], false],
    [["plain"], false],
    [["plain", "tunnels"], true],
    [["auditor", "access"], true],
    [[], false],
  ];
  for (const [names, expected] of cases) {
    assert.equal(canForwardPorts(alice, resolveRoles(names, table)), expected, names.join(","));
  }
});

Deno.test("canTransferFiles() and canForwardAgent(): admin and access yes, others only when set", () => {
  const table = defaultRoleTable();
  table.set("files", role("files", { file_transfer: true }));
  table.set("agent", role("agent", { agent_forwarding: true }));
  table.set("plain", role("plain", {}));
  const cases: [string[], { files: boolean; agent: boolean }][] = [
    [["admin"], { files: true, agent: true }],
    [["access"], { files: true, agent: true }],
    [["auditor"], { files: false, agent: false }],
    [["plain"], { files: false, agent: false }],
    [["plain", "files"], { files: true, agent: false }],
    [["plain", "agent"], { files: false, agent: true }],
    [[], { files: false, agent: false }],
  ];
  for (const [names, expected] of cases) {
    const roles = resolveRoles(names, table);
    assert.deepEqual(
      { files: canTransferFiles(alice, roles), agent: canForwardAgent(alice, roles) },
      expected,
      names.join(","),
    );
  }
});

Deno.test("withOptionDefaults() completes a role stored before its options existed", () => {
  const stored = (name: string) => {
    const { file_transfer: _f, agent_forwarding: _a, ...old } = role(name, { logins: ["x"] });
    return old;
  };
  assert.equal(validateRole(withOptionDefaults(stored("access"))).file_transfer, true);
  assert.equal(validateRole(withOptionDefaults(stored("access"))).agent_forwarding, true);
  assert.equal(validateRole(withOptionDefaults(stored("custom"))).file_transfer, false);
  assert.equal(
    withOptionDefaults({ ...stored("access"), file_transfer: false }).file_transfer,
    false,
  );
});
