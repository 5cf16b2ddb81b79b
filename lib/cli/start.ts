/**
 * `postern start`: runs the auth and proxy roles until Ctrl-C or SIGTERM.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { serverContext, serverFlags } from "./context.ts";
import { listFlag, stringFlag, UsageError } from "./args.ts";
import { parseHostPort } from "../config/schema.ts";
import type { Role } from "../postern.ts";
import type { Logger } from "../log.ts";

/**
 * Run from a source checkout (`deno run -A main.ts start`), builds the web UI
 * when ui/dist is missing or stale, as `deno task start` does. A compiled
 * binary embeds ui/dist and has no build script: nothing to do.
 */
async function buildUiFromSource(log: Logger): Promise<void> {
  const script = new URL("../../scripts/build_ui.ts", import.meta.url);
  if (script.protocol !== "file:") return;
  try {
    await Deno.stat(script);
  } catch {
    return;
  }
  // A computed specifier keeps esbuild out of compiled binaries.
  const { buildUiIfStale } = await import(script.href);
  if (await buildUiIfStale()) log.info("built the web UI (ui/dist) from source");
}

/** How long after start-up the libraries it leaves out are loaded, clear of the first requests. */
const WARM_UP_DELAY_MS = 1_000;

/**
 * Loads the WebAuthn library (~80 ms) once start-up is over, so that neither
 * `postern start` nor the first passkey ceremony waits for it.
 */
function warmUpLater(log: Logger): void {
  const timer = setTimeout(() => {
    import("../auth/webauthn.ts").then(({ preloadWebAuthn }) => preloadWebAuthn()).catch(
      (error) => log.warn("cannot load the WebAuthn library", { error: String(error) }),
    );
  }, WARM_UP_DELAY_MS);
  Deno.unrefTimer(timer);
}

/** Parses `--roles` (default both). */
export function parseRoles(flag: string | undefined): Role[] {
  if (flag === undefined) return ["auth", "proxy"];
  const roles = flag.split(",").map((role) => role.trim()).filter(Boolean);
  const unknown = roles.find((role) => role !== "auth" && role !== "proxy");
  if (unknown !== undefined || roles.length === 0) {
    throw new UsageError(`--roles "${flag}" must be auth, proxy or auth,proxy`);
  }
  return [...new Set(roles)] as Role[];
}

export const startCommand: Command = {
  path: ["start"],
  summary: "Run the postern proxy and auth service",
  details: `
With no config, runs the auth service and the proxy in one process: listens on
0.0.0.0:3080 (HTTPS), 0.0.0.0:3023 (SSH) and 0.0.0.0:3025 (Auth API, for more
proxies), keeps its state in ~/.local/share/postern and generates a
self-signed certificate. Stop it with Ctrl-C or SIGTERM.

Production layout: one auth server and several proxies behind a load balancer.
On the auth host:   postern start --roles auth
                    postern tokens add --type proxy     (prints the proxy's command)
On each proxy host: postern start --roles proxy --auth-server auth.example.com:3025 \
                      --token <token> --ca-pin sha256:<pin>
A proxy keeps its cluster identity in its data dir: later starts need no token.

SIGHUP (systemctl reload) reloads the config file without ending connections:
log.level, roles and nodes (auth), tls.cert_file/tls.key_file (proxy). Other
settings, and the roles this process runs, need a restart.

Prometheus metrics: set metrics.listen_addr (e.g. 127.0.0.1:3081) in the config;
/metrics is then served over plain HTTP there, never on the HTTPS port.

Examples:
  postern start
  postern start --config /etc/postern.yaml --log-format json`,
  maxArgs: 0,
  flags: {
    ...serverFlags,
    roles: {
      type: "string",
      placeholder: "auth,proxy",
      description: "roles this process runs (default both)",
    },
    "auth-server": {
      type: "list",
      placeholder: "host:port",
      description: "Auth API address for --roles proxy (repeatable; default proxy.auth_servers)",
    },
    token: {
      type: "string",
      placeholder: "token",
      description: "join token (first start of a proxy)",
    },
    "ca-pin": {
      type: "string",
      placeholder: "sha256:hex",
      description: "cluster CA pin the auth server must present when joining",
    },
  },
  async run(parsed) {
    const context = await serverContext(parsed);
    const { config, dataDir, log } = context;
    const roles = parseRoles(stringFlag(parsed, "roles"));
    const servers = listFlag(parsed, "auth-server");
    if (servers.some((server) => !parseHostPort(server))) {
      throw new UsageError(`--auth-server must be host:port`);
    }
    // Last line of defence: a bug reached by one connection must not take the
    // proxy down for everyone. Each is logged so it can be fixed.
    globalThis.addEventListener("unhandledrejection", (event) => {
      event.preventDefault();
      log.error("unhandled rejection (bug): the proxy keeps running", {
        error: String(event.reason),
      });
    });
    globalThis.addEventListener("error", (event) => {
      event.preventDefault();
      log.error("uncaught exception (bug): the proxy keeps running", {
        error: String(event.error),
      });
    });
    await buildUiFromSource(log);
    // Loaded here, not at the top: every other command starts faster without the server.
    const { startPostern } = await import("../postern.ts");
    const postern = await startPostern({
      config,
      dataDir,
      log,
      roles,
      authConnection: {
        servers: servers.length ? servers : config.proxy.auth_servers,
        token: stringFlag(parsed, "token"),
        caPin: stringFlag(parsed, "ca-pin"),
      },
    });
    const { proxy, authRole } = postern;
    log.info("postern is running", {
      roles: roles.join(","),
      ...(proxy
        ? {
          web: `https://${proxy.web.addr.hostname}:${proxy.web.addr.port}`,
          ssh: `${proxy.ssh.addr.hostname}:${proxy.ssh.addr.port}`,
        }
        : {}),
      ...(authRole ? { auth_api: `${authRole.api.addr.hostname}:${authRole.api.addr.port}` } : {}),
      ...(postern.metrics
        ? {
          metrics: `http://${postern.metrics.addr.hostname}:${postern.metrics.addr.port}/metrics`,
        }
        : {}),
      data_dir: dataDir,
    });
    if (proxy) {
      log.info("HTTPS certificate", {
        sha256: proxy.tls.fingerprint,
        self_signed: proxy.tls.selfSigned,
        expires: proxy.tls.notAfter.toISOString(),
      });
    }
    if (postern.authRole) warmUpLater(log);
    // SIGHUP reloads the config; reloads run one after another.
    let reloading = Promise.resolve();
    const reload = () =>
      reloading = reloading.then(async () => {
        try {
          const reloaded = await context.reloadConfig();
          await postern.reload(reloaded);
          log.info("reloaded the config", {
            log_level: reloaded.log.level,
            roles: reloaded.roles.length,
            nodes: reloaded.nodes.length,
          });
        } catch (error) {
          log.error("cannot reload the config; the running one stays", {
            error: error instanceof Error ? error.message : String(error),
          });
        }
      });
    Deno.addSignalListener("SIGHUP", reload);
    const { promise: stopping, resolve } = Promise.withResolvers<string>();
    const signals = ["SIGINT", "SIGTERM"] as const;
    const handlers = signals.map((signal) => {
      const handler = () => resolve(signal);
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
    const signal = await stopping;
    log.info("shutting down", { signal });
    for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
    Deno.removeSignalListener("SIGHUP", reload);
    await reloading;
    await postern.stop();
    log.info("stopped");
    return 0;
  },
};
