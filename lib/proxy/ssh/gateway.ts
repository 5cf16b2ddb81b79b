/**
 * One SSH client connection on the gateway, as explicit states: while
 * authenticating, only certificate logins are considered; once authenticated,
 * the state carries what was authorised (the identity, the login and the
 * optional target node), and channels are served from it.
 *
 * @module
 */

import type { Connection } from "ssh2";
import type { NodeSessionDeps } from "../node_session.ts";
import { type Authenticated, decideAuth } from "./authenticate.ts";
import { failChannel, rejectChannelOpen, sendAuthBanner, userMessage } from "./messages.ts";
import { handleSessions, SessionCount } from "./terminated.ts";
import { authorizeTunnel, parseProxySubsystem, runTunnel } from "./tunnel.ts";
import { dialNode } from "../dial.ts";
import { PortForwarder } from "./forwarding.ts";
import { logins } from "../../metrics/metrics.ts";
import { needsSessionMfa, promptSessionMfa, SESSION_MFA_TRIES } from "./session_mfa.ts";

/** How long a revoked connection waits, after its sessions closed, for their last words to go out. */
const REVOKED_CLOSE_DELAY_MS = 200;
/** How long a revoked connection waits for its sessions to tell the user why, at most. */
const REVOKED_SESSIONS_GRACE_MS = 2_000;

type ConnectionState =
  | { kind: "authenticating"; bannerSent: boolean }
  /** The certificate was accepted; a per-session second factor is still owed. */
  | { kind: "second_factor"; who: Authenticated; tries: number }
  | { kind: "authenticated"; who: Authenticated };

/** Limits of the gateway's connections. */
export interface GatewayOptions {
  /**
   * Most shells and commands (each a login to a node, or a join) running at
   * once on one connection, like sshd's `MaxSessions`; tunnels do not count.
   */
  maxSessionsPerConnection: number;
}

/** Returns the handler for new SSH connections. */
export function createGateway(deps: NodeSessionDeps, options: GatewayOptions) {
  return (client: Connection, remote: { ip: string; port: number }) => {
    let state: ConnectionState = { kind: "authenticating", bannerSent: false };
    const remoteAddr = remote.ip;

    client.on("authentication", async (ctx) => {
      if (state.kind === "second_factor") {
        const who = state.who;
        const refusal = await promptSessionMfa(ctx, deps.auth, who, remoteAddr);
        if (refusal === null) {
          state = { kind: "authenticated", who };
          logins.inc({ method: "ssh", outcome: "success" });
          return ctx.accept();
        }
        sendAuthBanner(client, `postern: ${refusal}`);
        if (++state.tries >= SESSION_MFA_TRIES) return ctx.reject([]);
        return ctx.reject(["keyboard-interactive"], true);
      }
      if (state.kind !== "authenticating") return ctx.reject();
      let decision;
      try {
        decision = await decideAuth(ctx, deps.auth, remote.ip);
      } catch (error) {
        decision = { kind: "reject" as const, message: userMessage(error, deps.log) };
      }
      if (decision.kind === "reject") {
        if (decision.message && !state.bannerSent) {
          state.bannerSent = true;
          logins.inc({ method: "ssh", outcome: "failure" });
          sendAuthBanner(client, `postern: ${decision.message}`);
          await deps.auth.audit({
            code: "ssh.auth",
            user: null,
            remoteAddr,
            success: false,
            fields: { username: ctx.username, reason: decision.message },
          });
        }
        // Offering keyboard-interactive after "none" makes a client without any
        // key try it, so it too gets the banner above; no prompt is ever sent.
        return ctx.reject(
          ctx.method === "none" ? ["publickey", "keyboard-interactive"] : ["publickey"],
        );
      }
      if (decision.result) {
        await deps.auth.audit({
          code: "ssh.auth",
          user: decision.result.identity.user,
          remoteAddr,
          fields: {
            username: ctx.username,
            cert_serial: decision.result.certificate.serial.toString(),
          },
        });
        let owed;
        try {
          owed = await needsSessionMfa(deps.auth, decision.result);
        } catch (error) {
          sendAuthBanner(client, `postern: ${userMessage(error, deps.log)}`);
          return ctx.reject([]);
        }
        if (owed) {
          // Partial success: the certificate counts, keyboard-interactive comes next.
          state = { kind: "second_factor", who: decision.result, tries: 0 };
          return ctx.reject(["keyboard-interactive"], true);
        }
        state = { kind: "authenticated", who: decision.result };
        logins.inc({ method: "ssh", outcome: "success" });
      }
      ctx.accept();
    });

    client.on("ready", () => {
      if (state.kind !== "authenticated") return client.end();
      const who = state.who;
      const sessions = new SessionCount(options.maxSessionsPerConnection);
      // Its proxy-terminated sessions are tracked on their own and tell the
      // user why (once the node has let go, which takes a while on a busy
      // machine); tunnels carry end-to-end encrypted bytes, so the connection
      // just ends, after those sessions have closed so that their messages
      // get out first.
      const untrack = deps.connections.track({
        user: who.identity.user,
        kind: "ssh",
        close: () => {
          let grace: ReturnType<typeof setTimeout> | undefined;
          void Promise.race([
            sessions.drained(),
            new Promise((resolve) => (grace = setTimeout(resolve, REVOKED_SESSIONS_GRACE_MS))),
          ]).then(() => {
            clearTimeout(grace);
            setTimeout(() => client.end(), REVOKED_CLOSE_DELAY_MS);
          });
        },
      });
      client.on("close", untrack);

      // Dials of nodes stop when the user gives up on them (see dialNode).
      const connectionGone = new AbortController();
      client.once("close", () => connectionGone.abort());
      client.on("session", (accept) => {
        const session = accept();
        const otherSubsystem = handleSessions(client, session, who, deps, remoteAddr, sessions);
        session.on("subsystem", async (acceptSub, rejectSub, info) => {
          const target = parseProxySubsystem(info.name);
          if (!target) return otherSubsystem(acceptSub, rejectSub, info.name);
          const channel = acceptSub();
          const channelGone = new AbortController();
          channel.once("close", () => channelGone.abort());
          const gaveUp = AbortSignal.any([connectionGone.signal, channelGone.signal]);
          try {
            const authorized = await authorizeTunnel(deps.auth, who, target.host, target.port);
            const conn = await dialNode(authorized.node, deps.dialTimeoutMs, gaveUp);
            await runTunnel(channel, conn, {
              ...deps,
              who,
              node: authorized.node,
              remoteAddr,
              kind: "subsystem",
            });
          } catch (error) {
            failChannel(channel, userMessage(error, deps.log));
          }
        });
      });

      const node = who.target.node;
      if (node !== null) {
        serveForwarding(
          new PortForwarder(client, { ...who, target: { ...who.target, node } }, deps, remoteAddr),
        );
        return;
      }

      client.on("tcpip", async (accept, reject, info) => {
        let conn: Deno.TcpConn;
        let authorized;
        try {
          authorized = await authorizeTunnel(deps.auth, who, info.destIP, info.destPort);
          conn = await dialNode(authorized.node, deps.dialTimeoutMs, connectionGone.signal);
        } catch (error) {
          return rejectChannelOpen(client, reject, userMessage(error, deps.log));
        }
        const channel = accept();
        await runTunnel(channel, conn, {
          ...deps,
          who,
          node: authorized.node,
          remoteAddr,
          kind: "direct-tcpip",
        });
      });

      client.on("request", (_accept, reject) => reject?.());
    });
  };
}

/**
 * In a `login:node` connection, `direct-tcpip` and `tcpip-forward` are port
 * forwards through the node (`ssh -L/-R`), not tunnels to registered nodes.
 */
function serveForwarding(forwarder: PortForwarder): void {
  const { user: client, deps } = forwarder;
  client.on("tcpip", (accept, reject, info) => void forwarder.openLocal(accept, reject, info));
  client.on("request", async (accept, reject, name, info) => {
    try {
      if (name === "tcpip-forward") {
        accept?.(await forwarder.listenRemote(info.bindAddr, info.bindPort));
      } else if (name === "cancel-tcpip-forward") {
        await forwarder.cancelRemote(info.bindAddr, info.bindPort);
        accept?.();
      } else reject?.();
    } catch (error) {
      // A global request's failure carries no text; OpenSSH prints its own warning.
      deps.log.debug("port forward request refused", { error: userMessage(error, deps.log) });
      reject?.();
    }
  });
}
