/**
 * Administration commands: users, nodes, join tokens, proxies, the CAs and
 * the audit log. On the auth host they open its data dir (also while
 * `postern start` runs on it); anywhere else they reach the Auth API with
 * `--auth-server host:3025 --identity <file>` (an admin identity from
 * `postern identity`), as Teleport's tctl does.
 *
 * @module
 */

import type { Command, ParsedArgs } from "./args.ts";
import { listFlag, stringFlag, UsageError } from "./args.ts";
import { adminFlags, serverContext } from "./context.ts";
import type { AuthAdmin, AuthService, Invite } from "../auth/service.ts";
import { parseDuration } from "../config/schema.ts";
import { formatLabels, formatTable } from "./format.ts";
import { fingerprint, parsePublicKeyLine } from "../sshcert/mod.ts";

/** What admin commands use, on the auth host or through the Auth API. */
type Admin = AuthAdmin & Pick<AuthService, "hostCaLine" | "hostCaKnownHosts">;

async function withRemoteAuth<T>(
  server: string,
  identityPath: string | undefined,
  fn: (auth: Admin) => Promise<T>,
): Promise<T> {
  if (!identityPath) throw new UsageError("--auth-server needs --identity <file>");
  const { readIdentity } = await import("../auth/api/identity.ts");
  const { AuthApiClient, connectRemoteAuth } = await import("../auth/api/client.ts");
  const identity = await readIdentity(identityPath);
  if (!identity) throw new UsageError(`no identity file "${identityPath}"`);
  if (identity.expires.getTime() <= Date.now()) {
    throw new UsageError(
      `the identity in "${identityPath}" expired at ${identity.expires.toISOString()}; get a new one with postern identity`,
    );
  }
  const api = new AuthApiClient([server], identity);
  try {
    return await fn(await connectRemoteAuth(api));
  } finally {
    api.close();
  }
}

/** Runs `fn` with the auth service of the local data dir, or of `--auth-server`. */
export async function withAuth<T>(
  parsed: ParsedArgs,
  fn: (auth: Admin) => Promise<T>,
): Promise<T> {
  const server = stringFlag(parsed, "auth-server");
  if (server) return await withRemoteAuth(server, stringFlag(parsed, "identity"), fn);
  // The auth role (SQLite, CAs) loads only for the commands that use it.
  const { openAuth } = await import("../postern.ts");
  const context = await serverContext({
    ...parsed,
    flags: { "log-level": "warn", ...parsed.flags },
  });
  const { auth, close } = await openAuth(context);
  try {
    return await fn(auth);
  } finally {
    await close();
  }
}

function durationFlag(parsed: ParsedArgs, name: string): number | undefined {
  const value = stringFlag(parsed, name);
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (!ms) throw new UsageError(`--${name} "${value}" is not a duration like 30m, 1h or 2d`);
  return ms;
}

function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of values) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`label "${pair}" is not key=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

const formatFlag = {
  format: {
    type: "string" as const,
    placeholder: "table|json",
    description: "output format (default table)",
  },
};

function wantsJson(parsed: ParsedArgs): boolean {
  const format = stringFlag(parsed, "format") ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`--format "${format}" is not table or json`);
  }
  return format === "json";
}

/** What `<group> ls` lists and how it shows an item. */
interface ListCommand<T> {
  group: string;
  summary: string;
  list: (auth: Admin) => Promise<T[]>;
  /** The table's column headings. */
  header: string[];
  /** An item's cells in the table. */
  row: (item: T) => string[];
  /** An item in `--format json`; the item itself when absent. */
  json?: (item: T) => unknown;
}

/** `<group> ls`: the items `list` returns, as a table or (`--format json`) a JSON array. */
function listCommand<T>({ group, summary, list, header, row, json }: ListCommand<T>): Command {
  return {
    path: [group, "ls"],
    summary,
    maxArgs: 0,
    flags: { ...adminFlags, ...formatFlag },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const items = await list(auth);
        if (wantsJson(parsed)) console.log(JSON.stringify(json ? items.map(json) : items, null, 2));
        else console.log(formatTable(header, items.map(row)));
        return 0;
      }),
  };
}

/** Prints `lead` with the invite's expiry, then the link on a line of its own to copy. */
function printInvite(lead: string, invite: Invite): void {
  if (invite.warning) console.error(`warning: ${invite.warning}`);
  console.log(`${lead} (valid until ${invite.expires.toISOString()}):`);
  console.log(invite.url);
}

/** `<group> rm <name>`: `remove` it, then say "<Noun> "<name>" removed.". */
function removeCommand(
  group: string,
  noun: string,
  summary: string,
  remove: (auth: Admin, name: string) => Promise<void>,
): Command {
  return {
    path: [group, "rm"],
    summary,
    usage: "<name>",
    minArgs: 1,
    maxArgs: 1,
    flags: adminFlags,
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        await remove(auth, parsed.args[0]);
        console.log(`${noun} "${parsed.args[0]}" removed.`);
        return 0;
      }),
  };
}

export const adminCommands: Command[] = [
  {
    path: ["users", "add"],
    summary: "Add a user and print a one-time invite link",
    usage: "<name>",
    details: "Example:\n  postern users add alice --roles access --logins root,alice",
    minArgs: 1,
    maxArgs: 1,
    flags: {
      ...adminFlags,
      roles: {
        type: "list",
        placeholder: "a,b",
        description: "roles (admin, access, auditor or from config)",
      },
      logins: { type: "list", placeholder: "a,b", description: "the user's own Unix logins" },
      ttl: { type: "string", placeholder: "duration", description: "invite validity (default 1h)" },
    },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const invite = await auth.addUser({
          name: parsed.args[0],
          roles: listFlag(parsed, "roles"),
          logins: listFlag(parsed, "logins"),
          ttlMs: durationFlag(parsed, "ttl"),
        }, "cli");
        printInvite(`User "${invite.user}" added. Share this invite link`, invite);
        return 0;
      }),
  },
  listCommand({
    group: "users",
    summary: "List users",
    list: (auth) => auth.listUsers(),
    header: ["NAME", "ROLES", "LOGINS", "STATUS"],
    row: (u) => [u.name, u.roles.join(","), u.logins.join(","), u.status],
  }),
  removeCommand(
    "users",
    "User",
    "Remove a user (their sessions and connections end at once)",
    (auth, name) => auth.removeUser(name, "cli"),
  ),
  {
    path: ["users", "reset"],
    summary: "Revoke a user's password and second factor and print a new invite",
    usage: "<name>",
    minArgs: 1,
    maxArgs: 1,
    flags: {
      ...adminFlags,
      ttl: { type: "string", placeholder: "duration", description: "invite validity" },
    },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const invite = await auth.resetUser(parsed.args[0], durationFlag(parsed, "ttl"), "cli");
        printInvite(`Credentials of "${invite.user}" revoked. New invite`, invite);
        return 0;
      }),
  },
  {
    path: ["users", "lock"],
    summary: "Lock a user: end their live connections and refuse their logins and certificates",
    usage: "<name>",
    details: `
Every live connection of the user through any proxy ends within a second,
saying why: web terminals, ssh sessions, -J tunnels, port forwards and HTTPS
tunnels. Logins and certificates already issued are refused until the lock
ends (--ttl) or postern users unlock.

Examples:
  postern users lock alice --reason "laptop stolen"
  postern users lock bob --ttl 1h`,
    minArgs: 1,
    maxArgs: 1,
    flags: {
      ...adminFlags,
      ttl: {
        type: "string",
        placeholder: "duration",
        description: "lock for this long (default: until unlocked)",
      },
      reason: { type: "string", placeholder: "text", description: "why; shown to the user" },
    },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const name = parsed.args[0];
        const until = await auth.lockUser(
          name,
          { ttlMs: durationFlag(parsed, "ttl"), reason: stringFlag(parsed, "reason") },
          "cli",
        );
        console.log(
          `User "${name}" locked ${until ? `until ${until.toISOString()}` : "until unlocked"}; ` +
            "their live connections are ending.",
        );
        return 0;
      }),
  },
  {
    path: ["users", "unlock"],
    summary: "Lift a lock set by postern users lock",
    usage: "<name>",
    minArgs: 1,
    maxArgs: 1,
    flags: adminFlags,
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        await auth.unlockUser(parsed.args[0], "cli");
        console.log(`User "${parsed.args[0]}" unlocked.`);
        return 0;
      }),
  },
  {
    path: ["nodes", "add"],
    summary: "Register a node (its host key is fetched and pinned)",
    usage: "<name> <host:port>",
    details: "Example:\n  postern nodes add saturn 10.0.0.5:22 --labels env=prod,team=db",
    minArgs: 2,
    maxArgs: 2,
    flags: {
      ...adminFlags,
      labels: {
        type: "list",
        placeholder: "k=v,...",
        description: "labels matched by roles' node_labels",
      },
      "host-key": {
        type: "string",
        placeholder: "line",
        description: "pin this host key instead of fetching it",
      },
      "require-host-cert": {
        type: "boolean",
        description: "require a host certificate from the host CA",
      },
    },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const node = await auth.addNode({
          name: parsed.args[0],
          addr: parsed.args[1],
          labels: parseLabels(listFlag(parsed, "labels")),
          hostKey: stringFlag(parsed, "host-key"),
          requireHostCert: parsed.flags["require-host-cert"] === true,
        }, "cli");
        // The fingerprint lets the operator compare the pinned key with the node's own
        // (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`): trust on first use.
        const pinned = node.hostKey
          ? `${node.hostKey.split(" ")[0]} ${fingerprint(parsePublicKeyLine(node.hostKey).key)}`
          : "none";
        console.log(`Node "${node.name}" added at ${node.addr}; host key pinned: ${pinned}.`);
        return 0;
      }),
  },
  listCommand({
    group: "nodes",
    summary: "List registered nodes",
    list: (auth) => auth.listAllNodes(),
    header: ["NAME", "ADDRESS", "LABELS", "SOURCE"],
    row: (n) => [n.name, n.addr, formatLabels(n.labels), n.source],
    json: (n) => ({
      name: n.name,
      addr: n.addr,
      labels: n.labels,
      source: n.source,
      host_key: n.hostKey,
      require_host_cert: n.requireHostCert,
    }),
  }),
  removeCommand("nodes", "Node", "Remove a node", (auth, name) => auth.removeNode(name, "cli")),
  {
    path: ["nodes", "host-cert"],
    summary: "Sign a host certificate for a node's host key",
    details:
      "Example:\n  postern nodes host-cert --name saturn --pub /etc/ssh/ssh_host_ed25519_key.pub",
    maxArgs: 0,
    flags: {
      ...adminFlags,
      name: { type: "string", placeholder: "node", description: "registered node name" },
      pub: { type: "string", placeholder: "file", description: "the node's host public key file" },
      ttl: { type: "string", placeholder: "duration", description: "validity (default 365d)" },
    },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const name = stringFlag(parsed, "name");
        const pub = stringFlag(parsed, "pub");
        if (!name || !pub) throw new UsageError("--name and --pub are required");
        const line = await auth.signHostCertificate(
          name,
          await Deno.readTextFile(pub),
          durationFlag(parsed, "ttl"),
        );
        console.log(line);
        return 0;
      }),
  },
  {
    path: ["nodes", "setup-script"],
    summary: "Print a shell script that makes a node trust postern",
    usage: "<name>",
    minArgs: 1,
    maxArgs: 1,
    flags: adminFlags,
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        console.log((await auth.setupScript(parsed.args[0])).trimEnd());
        return 0;
      }),
  },
  {
    path: ["tokens", "add"],
    summary: "Make a one-time token a proxy (or an admin's machine) joins the cluster with",
    details: `
Prints the token, the cluster CA pin and the command to run with them.

Examples:
  postern tokens add --type proxy
  postern tokens add --type admin --ttl 10m`,
    maxArgs: 0,
    flags: {
      ...adminFlags,
      type: { type: "string", placeholder: "proxy|admin", description: "what joins (required)" },
      ttl: { type: "string", placeholder: "duration", description: "validity (default 30m)" },
      "auth-addr": {
        type: "string",
        placeholder: "host:port",
        description: "the Auth API address shown in the command (default <hostname>:3025)",
      },
    },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const type = stringFlag(parsed, "type");
        if (type !== "proxy" && type !== "admin") {
          throw new UsageError("--type must be proxy or admin");
        }
        const { token, expires, caPin } = await auth.addJoinToken(
          type,
          durationFlag(parsed, "ttl"),
          "cli",
        );
        const authAddr = stringFlag(parsed, "auth-addr") ?? stringFlag(parsed, "auth-server") ??
          `${Deno.hostname()}:3025`;
        console.log(`Token (one use, valid until ${expires.toISOString()}):\n${token}`);
        console.log(`Cluster CA pin: ${caPin}\n`);
        console.log(
          type === "proxy" ? "Start a proxy with:" : "Get an admin identity file with:",
        );
        console.log(
          type === "proxy"
            ? `  postern start --roles proxy --auth-server ${authAddr} --token ${token} --ca-pin ${caPin}`
            : `  postern identity --auth-server ${authAddr} --token ${token} --ca-pin ${caPin} --out admin.identity`,
        );
        return 0;
      }),
  },
  listCommand({
    group: "tokens",
    summary: "List unused join tokens",
    list: (auth) => auth.listJoinTokens(),
    header: ["ID", "TYPE", "EXPIRES"],
    row: (t) => [t.id, t.kind, t.expires.toISOString()],
  }),
  removeCommand(
    "tokens",
    "Token",
    "Delete a join token",
    (auth, id) => auth.removeJoinToken(id, "cli"),
  ),
  listCommand({
    group: "proxies",
    summary: "List the proxies that joined or registered",
    list: (auth) => auth.listProxies(),
    header: ["ID", "WEB", "SSH", "LAST SEEN"],
    row: (p) => [p.id, p.publicAddr, p.sshPublicAddr, new Date(p.lastSeen).toISOString()],
  }),
  removeCommand("proxies", "Proxy", "Remove a proxy; its identity is refused from then on", (
    auth,
    id,
  ) => auth.removeProxy(id, "cli")),
  {
    path: ["identity"],
    summary: "Trade an admin join token for an identity file for remote admin commands",
    details: `
Run where you administer from, with what \`postern tokens add --type admin\`
printed on the auth host. The file (mode 0600) is valid for 12 hours.

Example:
  postern identity --auth-server auth.example.com:3025 --token <token> \\
    --ca-pin sha256:<pin> --out admin.identity
  postern users ls --auth-server auth.example.com:3025 --identity admin.identity`,
    maxArgs: 0,
    flags: {
      "auth-server": { type: "string", placeholder: "host:port", description: "Auth API address" },
      token: { type: "string", placeholder: "token", description: "admin join token" },
      "ca-pin": { type: "string", placeholder: "sha256:hex", description: "cluster CA pin" },
      out: { type: "string", placeholder: "file", description: "identity file to write" },
    },
    async run(parsed) {
      const server = stringFlag(parsed, "auth-server");
      const token = stringFlag(parsed, "token");
      const caPin = stringFlag(parsed, "ca-pin");
      const out = stringFlag(parsed, "out");
      if (!server || !token || !caPin || !out) {
        throw new UsageError("--auth-server, --token, --ca-pin and --out are required");
      }
      const { joinCluster, writeIdentity } = await import("../auth/api/identity.ts");
      const identity = await joinCluster({
        servers: [server],
        token,
        caPin,
        request: { id: `${Deno.hostname()}-${crypto.randomUUID().slice(0, 8)}` },
      });
      await writeIdentity(out, identity);
      console.log(`Wrote ${out} (valid until ${identity.expires.toISOString()}).`);
      return 0;
    },
  },
  {
    path: ["ca", "export"],
    summary: "Print a CA public key for sshd or known_hosts",
    details: "  --type user   the TrustedUserCAKeys line for nodes' sshd\n" +
      "  --type host   an @cert-authority line for known_hosts (--format key: the bare key)\n" +
      "  --type tls    the cluster TLS CA certificate and its pin (--ca-pin of joining proxies)",
    maxArgs: 0,
    flags: {
      ...adminFlags,
      type: { type: "string", placeholder: "user|host|tls", description: "which CA" },
      format: {
        type: "string",
        placeholder: "known_hosts|key",
        description: "host CA output form",
      },
    },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const type = stringFlag(parsed, "type");
        if (type === "user") console.log(await auth.userCaLine());
        else if (type === "tls") {
          const { cert, pin } = await auth.clusterCa();
          console.log(`${cert.trimEnd()}\n# pin: ${pin}`);
        } else if (type === "host") {
          const format = stringFlag(parsed, "format") ?? "known_hosts";
          if (format === "key") console.log(auth.hostCaLine());
          else if (format === "known_hosts") {
            console.log((await auth.hostCaKnownHosts()).join("\n"));
          } else throw new UsageError(`--format "${format}" is not known_hosts or key`);
        } else throw new UsageError("--type must be user, host or tls");
        return 0;
      }),
  },
  {
    path: ["audit"],
    summary: "Show audit events",
    details: "Example:\n  postern audit --since 1h --type user.login --json",
    maxArgs: 0,
    flags: {
      ...adminFlags,
      since: {
        type: "string",
        placeholder: "duration",
        description: "only events this recent (e.g. 1h)",
      },
      type: {
        type: "string",
        placeholder: "code",
        description: "event code or prefix (e.g. user.)",
      },
      user: { type: "string", placeholder: "name", description: "only this user's events" },
      json: { type: "boolean", description: "one JSON object per line" },
    },
    run: (parsed) =>
      withAuth(parsed, async (auth) => {
        const since = durationFlag(parsed, "since");
        // Newest first so that a long log shows its latest events, printed oldest first.
        const events = (await auth.auditEvents({
          since: since ? Date.now() - since : undefined,
          codePrefix: stringFlag(parsed, "type"),
          user: stringFlag(parsed, "user"),
          limit: 10_000,
          order: "desc",
        })).reverse();
        for (const e of events) {
          const time = new Date(e.time).toISOString();
          if (parsed.flags.json) {
            console.log(
              JSON.stringify({
                time,
                code: e.code,
                user: e.user,
                remote_addr: e.remoteAddr,
                success: e.success,
                ...e.fields,
              }),
            );
          } else {
            const fields = Object.entries(e.fields).map(([k, v]) => `${k}=${JSON.stringify(v)}`)
              .join(" ");
            console.log(
              `${time} ${e.success ? "ok  " : "FAIL"} ${e.code} user=${e.user ?? "-"} addr=${
                e.remoteAddr ?? "-"
              } ${fields}`,
            );
          }
        }
        return 0;
      }),
  },
];
