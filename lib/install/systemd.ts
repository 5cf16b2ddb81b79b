/**
 * A hardened systemd unit for `postern start`: the service runs as a dynamic
 * (or given) unprivileged user, keeps its state in `StateDirectory`, sees the
 * rest of the file system read-only, and holds no capability except
 * `CAP_NET_BIND_SERVICE`, and that only when it listens on a port below 1024.
 * SIGHUP (`systemctl reload`) reloads the config without dropping sessions.
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import { parseHostPort } from "../config/schema.ts";
import type { Role } from "../postern.ts";

/** What {@linkcode systemdUnit} writes. */
export interface SystemdUnitOptions {
  /** The argv that runs postern, before `start` (the binary, or deno with its arguments). */
  command: string[];
  roles: Role[];
  /** Absolute path of the config file passed with --config, if any. */
  configPath?: string;
  /** Auth API addresses passed with --auth-server (a proxy of its own). */
  authServers?: string[];
  /** Run as this existing user instead of a dynamic one. */
  user?: string;
  /** Ports the process binds; one below 1024 grants CAP_NET_BIND_SERVICE. */
  ports: number[];
  /**
   * The checkout when postern runs from source (`deno run -A main.ts`): deno
   * reads deno.json from there and needs a cache directory. The compiled
   * binary needs neither.
   */
  sourceRoot?: string;
}

/** The unit's name (without `.service`): `postern`, or `postern-auth` / `postern-proxy` for one role. */
export function unitName(roles: Role[]): string {
  return roles.length === 1 ? `postern-${roles[0]}` : "postern";
}

/** The ports a process with `roles` listens on, from `config`. */
export function listenPorts(config: Config, roles: Role[]): number[] {
  const addrs = [
    ...(roles.includes("auth") ? [config.auth.listen_addr] : []),
    ...(roles.includes("proxy")
      ? [config.proxy.web_listen_addr, config.proxy.ssh_listen_addr, config.proxy.peer_listen_addr]
      : []),
    ...(config.metrics.listen_addr ? [config.metrics.listen_addr] : []),
  ];
  return addrs.map((addr) => parseHostPort(addr)!.port);
}

/**
 * One ExecStart word: `%` and `$` escaped, quoted when it holds anything but
 * plain path characters.
 */
function execWord(word: string): string {
  const escaped = word.replaceAll("%", "%%").replaceAll("$", "$$$$");
  if (/^[A-Za-z0-9_@%+=:,.\/-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * Renders the unit file.
 *
 * @example
 * ```ts
 * const unit = systemdUnit({
 *   command: ["/usr/local/bin/postern"],
 *   roles: ["auth", "proxy"],
 *   configPath: "/etc/postern/postern.yaml",
 *   ports: [3080, 3023, 3025, 3021],
 * });
 * ```
 */
export function systemdUnit(options: SystemdUnitOptions): string {
  const name = unitName(options.roles);
  const argv = [
    ...options.command,
    "start",
    "--roles",
    options.roles.join(","),
    "--data-dir",
    `/var/lib/${name}`,
    ...(options.configPath ? ["--config", options.configPath] : []),
    ...(options.authServers ?? []).flatMap((server) => ["--auth-server", server]),
  ];
  const bindsLowPort = options.ports.some((port) => port > 0 && port < 1024);
  const lines = [
    `# Written by \`postern install systemd\`. Install: /etc/systemd/system/${name}.service,`,
    `# then: systemctl daemon-reload && systemctl enable --now ${name}`,
    "[Unit]",
    `Description=postern identity-aware SSH access proxy (${options.roles.join(", ")})`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${argv.map(execWord).join(" ")}`,
    "ExecReload=/bin/kill -HUP $MAINPID",
    "Restart=on-failure",
    "RestartSec=5s",
    "TimeoutStopSec=30s",
    ...(options.user ? [`User=${options.user}`] : ["DynamicUser=yes"]),
    `StateDirectory=${name}`,
    "StateDirectoryMode=0700",
    ...(options.sourceRoot
      ? [
        `WorkingDirectory=${options.sourceRoot}`,
        `CacheDirectory=${name}`,
        `Environment=DENO_DIR=/var/cache/${name}/deno`,
      ]
      : []),
    "UMask=0077",
    "LimitNOFILE=65536",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectProc=invisible",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "SystemCallArchitectures=native",
    // V8 compiles code at run time: MemoryDenyWriteExecute would stop it.
    ...(bindsLowPort
      ? ["CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE"]
      : ["CapabilityBoundingSet="]),
    "",
    "[Install]",
    "WantedBy=multi-user.target",
  ];
  return lines.join("\n") + "\n";
}
