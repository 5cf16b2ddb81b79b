/**
 * postern's configuration: the schema with every default, and loading from an
 * optional YAML file. `postern start` works with no file at all.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import {
  bool,
  byteSize,
  ConfigError,
  duration,
  type Field,
  formatBytes,
  formatDuration,
  hostPort,
  int,
  list,
  object,
  oneOf,
  optionalStr,
  parseHostPort,
  str,
  stringMap,
} from "./schema.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NAME_FORM = "a name of letters, digits, '.', '_' or '-' (at most 63)";
const LOGIN = /^([a-z_][a-z0-9_.-]{0,31}|\{\{internal\.logins\}\})$/;
const PERMISSIONS = [
  "users",
  "nodes",
  "audit.read",
  "sessions.join",
  "sessions.replay",
  "sessions.end",
] as const;

const permission = oneOf("A permission.", "users", PERMISSIONS);
const login = str(
  "A login (Unix user name).",
  "",
  LOGIN,
  "a Unix login name or {{internal.logins}}",
);

const role = object("A role.", {
  name: str("Role name.", "", NAME, NAME_FORM),
  logins: list("Logins this role allows; {{internal.logins}} means the user's own logins.", login),
  node_labels: stringMap("Labels a node must have; a value of * matches any value."),
  max_session_ttl: duration("Longest certificate or web session this role grants.", "12h"),
  permissions: list(`Permissions: ${PERMISSIONS.join(", ")}.`, permission),
  port_forwarding: bool(
    "Allow SSH port forwarding (ssh -L, -R, -D) to holders of this role.",
    false,
  ),
  file_transfer: bool(
    "Allow file transfer (sftp, scp) on recorded sessions (login:node@proxy) to holders of this role.",
    false,
  ),
  agent_forwarding: bool(
    "Allow forwarding the user's ssh-agent to nodes (ssh -A) to holders of this role.",
    false,
  ),
  require_session_mfa: bool(
    "Ask holders of this role for a fresh second factor (an authenticator code at ssh's keyboard-interactive prompt) before each SSH connection through the gateway and each web terminal, at most once per auth.session_mfa_window.",
    false,
  ),
}, ["name"]);

const node = object("A node declared in the config file.", {
  name: str("Node name users connect to.", "", NAME, NAME_FORM),
  addr: hostPort("Address of the node's sshd.", ""),
  labels: stringMap("Labels used by role node_labels."),
  host_key: optionalStr("Pinned host key (authorized_keys form); fetched on first use if empty."),
  require_host_cert: bool("Require a host certificate signed by the postern host CA.", false),
}, ["name", "addr"]);

const claimMapping = object("Roles and logins granted when an ID token claim has a value.", {
  claim: str("Claim name (e.g. groups).", "", /^[A-Za-z0-9_.:-]{1,128}$/, "a claim name"),
  value: str("The value, or one of the values, the claim must have.", ""),
  roles: list("Roles granted.", str("A role name.", "", NAME, NAME_FORM)),
  logins: list(
    "Logins granted; {{email.local}} is the part of the email claim before @, {{claims.<name>}} a claim.",
    str("A login or a template.", ""),
  ),
}, ["claim", "value", "roles"]);

const connector = object("A single sign-on connector (OpenID Connect).", {
  type: oneOf("Connector type.", "oidc", ["oidc"] as const),
  name: str("Name users pick and `postern login --auth` takes.", "", NAME, NAME_FORM),
  display: optionalStr("Label on the sign-in page (default: the name).", "a string"),
  issuer_url: str(
    "Issuer URL; its discovery document is /.well-known/openid-configuration. HTTPS, or http on loopback for tests.",
    "",
  ),
  client_id: str("Client id registered at the provider.", ""),
  client_secret_file: optionalStr("File holding the client secret.", "a file path"),
  redirect_url: optionalStr(
    "Callback registered at the provider (default https://<proxy.public_addr>/v1/webapi/oidc/callback).",
    "a URL",
  ),
  scopes: list("Scopes asked for.", str("A scope.", ""), ["openid", "email", "profile"]),
  username_claim: str(
    "Claim that becomes the postern user name (else the email's local part).",
    "preferred_username",
  ),
  claims_to_roles: list("Claim values that grant roles and logins.", claimMapping),
}, ["name", "issuer_url", "client_id"]);

/** The whole config schema; the README reference is generated from it. */
export const configSchema = object("postern configuration", {
  cluster_name: str(
    "Cluster name; used in host CA lines (*.<cluster>) and API paths.",
    "postern",
    NAME,
    NAME_FORM,
  ),
  data_dir: optionalStr("Data directory (default $XDG_DATA_HOME/postern).", "a directory path"),
  log: object("Logging.", {
    level: oneOf("Lowest level logged.", "info", ["debug", "info", "warn", "error"] as const),
    format: oneOf("Log line format.", "text", ["text", "json"] as const),
  }),
  proxy: object("The proxy role.", {
    web_listen_addr: hostPort("HTTPS listener for the web UI and API.", "0.0.0.0:3080"),
    ssh_listen_addr: hostPort("SSH listener for the gateway.", "0.0.0.0:3023"),
    public_addr: optionalStr(
      "host:port users reach the web listener at (default <hostname>:<web port>).",
      "host:port",
    ),
    ssh_public_addr: optionalStr(
      "host:port users reach the SSH listener at (default <hostname>:<ssh port>).",
      "host:port",
    ),
    dial_timeout: duration("How long to wait for a node to answer.", "10s"),
    idle_timeout: duration("Close web terminals idle this long.", "30m"),
    max_connections: int(
      "Simultaneous SSH connections accepted (an idle one costs the proxy ~0.1 MiB and two open files).",
      5000,
      1,
      100000,
    ),
    max_sessions_per_connection: int(
      "Shells and commands (each a login to a node) running at once on one SSH connection, like sshd's MaxSessions; tunnels do not count.",
      10,
      1,
      1000,
    ),
    login_grace_time: duration(
      "An SSH connection not authenticated this long after it connected is closed (like sshd's LoginGraceTime).",
      "30s",
    ),
    max_unauthenticated_per_address: int(
      "SSH connections one address (an IPv6 /64) may hold before they authenticate; up to 10 times as many more wait for a slot (within login_grace_time), and more than that are closed at once.",
      20,
      1,
      100000,
    ),
    max_failures_per_address: int(
      "Failed credential checks (logins, invites, password changes) one address may make per failure_window before it gets 429.",
      30,
      1,
      100000,
    ),
    failure_window: duration("The window of max_failures_per_address.", "10m"),
    ssh_algorithms: object(
      "SSH algorithms the gateway and its connections to nodes offer, replacing postern's (only what ssh-audit passes); for sites with old clients or nodes.",
      {
        kex: list(
          "Key exchange methods, most preferred first.",
          str("A key exchange method.", "", /^[a-z0-9@.-]{1,64}$/, "an algorithm name"),
        ),
        ciphers: list(
          "Ciphers, most preferred first.",
          str("A cipher.", "", /^[a-z0-9@.-]{1,64}$/, "an algorithm name"),
        ),
        macs: list(
          "MACs (for ciphers without their own), most preferred first.",
          str("A MAC.", "", /^[a-z0-9@.-]{1,64}$/, "an algorithm name"),
        ),
      },
    ),
    peer_listen_addr: hostPort(
      "Listener (mutual TLS) through which other proxies join this proxy's live sessions.",
      "0.0.0.0:3021",
    ),
    peer_public_addr: optionalStr(
      "host:port other proxies reach the peer listener at (default <hostname>:<peer port>).",
      "host:port",
    ),
    auth_servers: list(
      "Auth API addresses (host:port) of the auth servers, for a proxy run with --roles proxy; any that answers is used.",
      hostPort("An auth server's Auth API address.", ""),
    ),
    tls_handshake_timeout: duration(
      "An HTTPS connection that has not finished its TLS handshake this long after connecting (or sent nothing at all) is closed.",
      "10s",
    ),
    tunnel_fast_path: bool(
      "Let `postern proxy ssh` open tunnels as plain TCP on the HTTPS port after authorising over TLS: faster bulk transfers; the node's name and the user travel hidden (sealed ticket), the SSH inside stays end-to-end encrypted, but the outer hop is not TLS.",
      false,
    ),
    request_header_timeout: duration(
      "An HTTPS connection whose first request head has not arrived this long after the TLS handshake is closed.",
      "30s",
    ),
    web_file_transfer_limit: byteSize(
      "Largest file a user may upload to a node or download from it in the browser terminal (0: no limit).",
      "100mb",
    ),
    keep_alive_timeout: duration(
      "An HTTPS connection (HTTP/1.1 keep-alive or HTTP/2) with no request in progress this long is closed; WebSockets are not.",
      "2m",
    ),
  }),
  tls: object("HTTPS certificate; a self-signed one is generated when unset.", {
    cert_file: optionalStr("PEM certificate chain file.", "a file path"),
    key_file: optionalStr("PEM private key file.", "a file path"),
  }),
  auth: object("The auth role.", {
    listen_addr: hostPort(
      "Auth API listener (mutual TLS) for proxies and remote admin commands.",
      "0.0.0.0:3025",
    ),
    public_addrs: list(
      "Other names proxies reach the Auth API at (host or host:port), e.g. the load balancer in front of several auth servers; its certificate covers them.",
      str(
        "A name or address of the Auth API.",
        "",
        /^[A-Za-z0-9.:\[\]-]{1,255}$/,
        "host or host:port",
      ),
    ),
    second_factor: oneOf(
      "Second factor at login: otp (authenticator app), webauthn (security key or passkey), on (either), optional (whichever the user set up, if any); off is for tests only.",
      "otp",
      ["otp", "webauthn", "on", "optional", "off"] as const,
    ),
    passwordless: bool(
      "Let users sign in to the web UI with a passkey alone (no password); needs second_factor webauthn, on or optional.",
      false,
    ),
    max_login_attempts: int("Failed logins before the account is locked.", 5, 1, 100),
    lockout_duration: duration("How long a locked account stays locked.", "20m"),
    connectors: list("Single sign-on connectors offered on the sign-in page.", connector),
    session_mfa_window: duration(
      "After a per-session second factor (roles with require_session_mfa), further sessions need none for this long.",
      "5m",
    ),
    invite_ttl: duration("Default validity of invite links.", "1h"),
    web_session_ttl: duration("Absolute lifetime of a web session.", "12h"),
    web_idle_timeout: duration("A web session unused this long expires.", "1h"),
  }),
  storage: object("Where the auth role keeps its state.", {
    type: oneOf(
      "sqlite: one file in the data dir (zero config); postgres: a PostgreSQL database that several auth servers share.",
      "sqlite",
      ["sqlite", "postgres"] as const,
    ),
    url: optionalStr(
      "PostgreSQL URL, e.g. postgres://postern@db:5432/postern?sslmode=verify-full (keep the password out of it).",
      "a postgres:// URL",
    ),
    password_file: optionalStr(
      "File holding the PostgreSQL password (else PGPASSWORD).",
      "a file path",
    ),
    ca_file: optionalStr(
      "PEM file of the CA that signed the PostgreSQL server's certificate (sslmode verify-full or verify-ca).",
      "a file path",
    ),
    max_connections: int("Connections each auth server opens to PostgreSQL.", 10, 1, 1000),
  }),
  recording: object("Session recording.", {
    record_input: bool("Also record what users type (passwords typed at prompts too).", false),
    max_bytes_per_session: byteSize(
      "A session whose recording reaches this size is ended (0: no limit).",
      "1gb",
    ),
    min_free_bytes: byteSize(
      "New sessions are refused while the recordings directory's disk has less free space than this.",
      "100mb",
    ),
  }),
  metrics: object("Prometheus metrics.", {
    listen_addr: optionalStr(
      "Plain-HTTP listener serving /metrics in Prometheus text format (e.g. 127.0.0.1:3081); unset: no metrics listener. Metrics are never served on the HTTPS port.",
      "host:port",
    ),
  }),
  roles: list("Roles in addition to the built-in admin, access and auditor.", role),
  nodes: list("Nodes declared here in addition to those added with `postern nodes add`.", node),
});

/** The parsed configuration with all defaults applied. */
export type Config = ReturnType<typeof configSchema.parse>;
/** A role as written in the config. */
export type RoleConfig = Config["roles"][number];
/** A node as written in the config. */
export type NodeConfig = Config["nodes"][number];

/** Checks rules that span several fields. */
function checkConsistency(config: Config): void {
  const { storage } = config;
  if (storage.type === "postgres" && !storage.url) {
    throw new ConfigError("storage.url", "is required when storage.type is postgres");
  }
  if (storage.url && !/^postgres(ql)?:\/\//.test(storage.url)) {
    throw new ConfigError("storage.url", "must start with postgres:// (or postgresql://)");
  }
  if (config.auth.passwordless && ["otp", "off"].includes(config.auth.second_factor)) {
    throw new ConfigError(
      "auth.passwordless",
      `needs auth.second_factor webauthn, on or optional (not ${config.auth.second_factor}): passkeys are WebAuthn credentials`,
    );
  }
  const { cert_file, key_file } = config.tls;
  if (Boolean(cert_file) !== Boolean(key_file)) {
    throw new ConfigError(
      cert_file ? "tls.key_file" : "tls.cert_file",
      "is required when the other of tls.cert_file/tls.key_file is set",
    );
  }
  config.auth.connectors.forEach((c, i) => {
    let issuer: URL | undefined;
    try {
      issuer = new URL(c.issuer_url);
    } catch { /* below */ }
    const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(issuer?.hostname ?? "");
    if (!issuer || !(issuer.protocol === "https:" || (issuer.protocol === "http:" && loopback))) {
      throw new ConfigError(
        `auth.connectors[${i}].issuer_url`,
        `${JSON.stringify(c.issuer_url)} is not an https:// URL (http:// only on loopback)`,
      );
    }
  });
  for (
    const [kind, names] of [
      ["roles", config.roles.map((r) => r.name)],
      ["nodes", config.nodes.map((n) => n.name)],
      ["auth.connectors", config.auth.connectors.map((c) => c.name)],
    ] as const
  ) {
    const seen = new Set<string>();
    names.forEach((name, i) => {
      if (seen.has(name)) {
        throw new ConfigError(`${kind}[${i}].name`, `"${name}" is declared twice`);
      }
      seen.add(name);
    });
  }
  for (const key of ["public_addr", "ssh_public_addr"] as const) {
    const value = config.proxy[key];
    if (value !== undefined) hostPort("", "").parse(value, `proxy.${key}`);
  }
  if (config.metrics.listen_addr !== undefined) {
    hostPort("", "").parse(config.metrics.listen_addr, "metrics.listen_addr");
  }
}

/** Parses and validates a YAML document; throws ConfigError naming the field. */
export function parseConfig(text: string): Config {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError("(file)", `is not valid YAML: ${reason}`);
  }
  const config = configSchema.parse(document, "");
  checkConsistency(config);
  return config;
}

/** Reads and validates a config file; throws ConfigError (also for unreadable files). */
export async function loadConfig(path: string | undefined): Promise<Config> {
  if (path === undefined) return parseConfig("");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new ConfigError(path, `cannot read config file: ${reason}`);
  }
  return parseConfig(text);
}

/** Renders the schema as a Markdown table for the README. */
export function configReference(): string {
  const rows: string[] = ["| field | form | default | meaning |", "|---|---|---|---|"];
  const walk = (fields: Record<string, Field<unknown>>, prefix: string) => {
    for (const [key, field] of Object.entries(fields)) {
      const path = prefix + key;
      const isObject = field.form === "a map" && field.fields;
      if (!isObject) {
        rows.push(`| \`${path}\` | ${field.form} | ${renderDefault(field)} | ${field.doc} |`);
      }
      if (field.fields) {
        walk(field.fields, Array.isArray(field.defaultValue) ? `${path}[].` : `${path}.`);
      }
    }
  };
  walk(configSchema.fields!, "");
  return rows.join("\n");
}

function renderDefault(field: Field<unknown>): string {
  const value = field.defaultValue;
  if (value === undefined || value === "") return "";
  if (field.form.startsWith("a duration")) return `\`${formatDuration(value as number)}\``;
  if (field.form.startsWith("a size")) return `\`${formatBytes(value as number)}\``;
  if (Array.isArray(value) && value.length === 0) return "";
  if (typeof value === "object" && Object.keys(value as object).length === 0) return "";
  return `\`${String(value)}\``;
}

/**
 * Names clients may reach the proxy's SSH listener by: the configured public
 * addresses, this machine's name and loopback (its host certificate's principals).
 */
export function proxyHostNames(config: Config): string[] {
  const configured = [config.proxy.ssh_public_addr, config.proxy.public_addr]
    .map((addr) => addr && parseHostPort(addr)?.hostname)
    .filter((host): host is string => !!host);
  return [...new Set([...configured, Deno.hostname(), "localhost", "127.0.0.1", "::1"])];
}

/**
 * known_hosts patterns for the proxy's SSH listener: each of
 * {@linkcode proxyHostNames} with the advertised port (`ssh_public_addr`'s,
 * else the listener's), as ssh writes them (`[host]:port`, bare for port 22).
 */
export function proxySshHostPatterns(config: Config): string[] {
  const advertised = config.proxy.ssh_public_addr && parseHostPort(config.proxy.ssh_public_addr);
  const port = advertised ? advertised.port : parseHostPort(config.proxy.ssh_listen_addr)?.port;
  if (!port) return [];
  return proxyHostNames(config).map((host) => port === 22 ? host : `[${host}]:${port}`);
}
