/**
 * `postern start`: runs the auth and proxy roles until Ctrl-C or SIGTERM.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { serverContext, serverFlags } from "./context.ts";
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

export const startCommand: Command = {
  path: ["start"],
  summary: "Run the postern proxy and auth service",
  details: `
With no config, listens on 0.0.0.0:3080 (HTTPS) and 0.0.0.0:3023 (SSH), keeps
its state in ~/.local/share/postern and generates a self-signed certificate.
Stop it with Ctrl-C or SIGTERM.

Examples:
  postern start
  postern start --config /etc/postern.yaml --log-format json`,
  maxArgs: 0,
  flags: serverFlags,
  async run(parsed) {
    const { config, dataDir, log } = await serverContext(parsed);
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
    const postern = await startPostern({ config, dataDir, log });
    const web = postern.web.addr;
    const ssh = postern.ssh.addr;
    log.info("postern is running", {
      web: `https://${web.hostname}:${web.port}`,
      ssh: `${ssh.hostname}:${ssh.port}`,
      data_dir: dataDir,
    });
    log.info("HTTPS certificate", {
      sha256: postern.tls.fingerprint,
      self_signed: postern.tls.selfSigned,
      expires: postern.tls.notAfter.toISOString(),
    });
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
    await postern.stop();
    log.info("stopped");
    return 0;
  },
};
