/**
 * `postern install systemd`: prints (or, with --write, installs) a hardened
 * systemd unit that runs this postern with the given roles and config.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { selfInvocation } from "./self.ts";
import type { Command } from "./args.ts";
import { listFlag, stringFlag, UsageError } from "./args.ts";
import { loadConfig } from "../config/config.ts";
import { parseHostPort } from "../config/schema.ts";
import { listenPorts, systemdUnit, unitName } from "../install/systemd.ts";
import { parseRoles } from "./start.ts";

/** How the unit runs this postern: the compiled binary, or deno with main.ts from this checkout. */
function runningPostern(): { command: string[]; sourceRoot?: string } {
  const command = selfInvocation();
  const main = command.length > 1 ? command[command.length - 1] : undefined;
  return main ? { command, sourceRoot: dirname(main) } : { command };
}

/** Paths under a home directory are hidden from the service by ProtectHome=yes. */
function hiddenByProtectHome(path: string): boolean {
  return /^\/(home|root|run\/user)(\/|$)/.test(path);
}

export const installSystemdCommand: Command = {
  path: ["install", "systemd"],
  summary: "Print or install a hardened systemd unit for postern start",
  details: `
Prints a unit that runs \`postern start\` as an unprivileged dynamic user (or
--user), with its data in /var/lib/<unit> (StateDirectory), the rest of the
file system read-only (ProtectSystem=strict), NoNewPrivileges, and
CAP_NET_BIND_SERVICE only when a configured port is below 1024.
\`systemctl reload <unit>\` sends SIGHUP: postern reloads its config (log level,
roles, nodes, TLS certificate files) without dropping sessions.

Keep the config and TLS files outside home directories (the service cannot
see them) and readable by the service: for example /etc/postern/, with the
key readable by the --user's group. The unit runs this executable: install
the compiled binary (deno task compile, then /usr/local/bin/postern) first.

A proxy of its own joins once by hand, then runs as a service:
  postern start --roles proxy --data-dir /var/lib/postern-proxy \\
    --auth-server auth.example.com:3025 --token <token> --ca-pin sha256:<pin>
  postern install systemd --roles proxy --config /etc/postern/postern.yaml --write

Examples:
  postern install systemd --config /etc/postern/postern.yaml
  postern install systemd --roles auth --config /etc/postern/postern.yaml --write`,
  maxArgs: 0,
  flags: {
    config: {
      type: "string",
      placeholder: "file",
      description: "config file the service runs with (its ports decide the capability)",
    },
    roles: {
      type: "string",
      placeholder: "auth,proxy",
      description: "roles the service runs (default both)",
    },
    "auth-server": {
      type: "list",
      placeholder: "host:port",
      description: "Auth API address for --roles proxy (default proxy.auth_servers)",
    },
    user: {
      type: "string",
      placeholder: "name",
      description: "run as this existing user instead of a dynamic one",
    },
    write: {
      type: "boolean",
      description: "write the unit to /etc/systemd/system (or --unit-dir) instead of printing it",
    },
    "unit-dir": {
      type: "string",
      placeholder: "dir",
      description: "where --write puts the unit (default /etc/systemd/system)",
    },
  },
  async run(parsed) {
    const roles = parseRoles(stringFlag(parsed, "roles"));
    const configFlag = stringFlag(parsed, "config");
    const configPath = configFlag === undefined ? undefined : resolve(configFlag);
    const config = await loadConfig(configPath);
    const authServers = listFlag(parsed, "auth-server");
    if (authServers.some((server) => !parseHostPort(server))) {
      throw new UsageError("--auth-server must be host:port");
    }
    if (!roles.includes("auth") && authServers.length === 0 && !config.proxy.auth_servers.length) {
      throw new UsageError(
        "--roles proxy needs its auth servers: --auth-server host:3025 (or proxy.auth_servers in the config).",
      );
    }
    const user = stringFlag(parsed, "user");
    if (user !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
      throw new UsageError(`--user "${user}" is not a Unix user name`);
    }
    const running = runningPostern();
    const readPaths = [
      running.command[0],
      running.sourceRoot,
      configPath,
      config.tls.cert_file,
      config.tls.key_file,
    ].filter((path): path is string => path !== undefined);
    for (const path of readPaths.filter(hiddenByProtectHome)) {
      console.error(
        `warning: the service cannot read ${path} (ProtectHome=yes hides home directories); move it out, e.g. to /usr/local/bin or /etc/postern/.`,
      );
    }
    const unit = systemdUnit({
      ...running,
      roles,
      configPath,
      authServers,
      user,
      ports: listenPorts(config, roles),
    });
    if (!parsed.flags.write) {
      console.log(unit.trimEnd());
      return 0;
    }
    const name = unitName(roles);
    const path = join(stringFlag(parsed, "unit-dir") ?? "/etc/systemd/system", `${name}.service`);
    try {
      await Deno.writeTextFile(path, unit, { mode: 0o644 });
    } catch (error) {
      const reason = error instanceof Deno.errors.PermissionDenied
        ? "permission denied (run it as root)"
        : String(error);
      console.error(`Cannot write ${path}: ${reason}`);
      return 1;
    }
    console.log(`wrote ${path}\nnext: systemctl daemon-reload && systemctl enable --now ${name}`);
    return 0;
  },
};
