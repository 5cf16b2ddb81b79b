/**
 * Agent forwarding on proxy-terminated sessions (`ssh -A -p 3023
 * login:node@proxy`): the proxy asks the node for agent forwarding on its own
 * session, and each agent connection the node opens is relayed to the user
 * as an `auth-agent@openssh.com` channel on the user's connection, so that
 * the user's ssh-agent answers. The proxy never holds or sees keys; it only
 * passes agent messages between the two channels.
 *
 * ssh2's server side has no call to open that channel, so it is opened here
 * through ssh2 1.17 internals (its channel manager and `openssh_authAgent`),
 * guarded by tests/integration/agent_forwarding_test.ts.
 *
 * @module
 */

// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import type { Connection, ServerChannel } from "ssh2";
import type { Duplex } from "node:stream";
import { ssh2ChannelModule as ssh2Channel } from "../../net/ssh2_internals.ts";
import { AccessDenied, Unavailable } from "../../errors.ts";

/** The refusal a user without `agent_forwarding` sees. */
export const AGENT_FORWARDING_DENIED =
  "your roles do not allow agent forwarding (ssh -A); the session runs without it.";

/** The ssh2 internals of a server-side connection that opening a channel needs. */
interface ConnectionInternals {
  _chanMgr: {
    add(wrapper: unknown): number;
  };
  _protocol: { openssh_authAgent(id: number, window: number, packetSize: number): void };
}

/**
 * Opens an `auth-agent@openssh.com` channel to the user, as sshd does when a
 * program on the server connects to the forwarded agent socket.
 *
 * @param user the user's gateway connection, on which agent forwarding was accepted
 * @returns the channel, carrying ssh-agent protocol messages
 * @throws Unavailable when the user's client refuses or no channel is free
 */
export function openAgentChannel(user: Connection): Promise<ServerChannel> {
  const internals = user as unknown as Partial<ConnectionInternals>;
  if (
    typeof internals._chanMgr?.add !== "function" ||
    typeof internals._protocol?.openssh_authAgent !== "function"
  ) {
    return Promise.reject(
      new Unavailable("This proxy's SSH library cannot forward agents; ask its administrator."),
    );
  }
  const { _chanMgr: channels, _protocol: protocol } = internals as ConnectionInternals;
  return new Promise((resolve, reject) => {
    const opened = (error: Error | undefined, channel: ServerChannel) =>
      error
        ? reject(new Unavailable("Your ssh client refused the agent connection.", { cause: error }))
        : resolve(channel);
    opened.type = "auth-agent@openssh.com";
    const id = channels.add(opened);
    if (id === -1) return reject(new Unavailable("No free channel for the agent connection."));
    protocol.openssh_authAgent(id, ssh2Channel.MAX_WINDOW, ssh2Channel.PACKET_SIZE);
  });
}

/**
 * The agent the proxy offers the node: each stream it gives is a new agent
 * channel to the user. It signs nothing itself; ssh2 uses only `getStream`
 * for forwarding.
 */
export class ForwardedAgent extends ssh2.BaseAgent {
  /** @param user the user's connection, on which agent forwarding was accepted */
  constructor(private readonly user: Connection) {
    super();
  }

  override getIdentities(cb: (error: Error | undefined, keys?: never[]) => void): void {
    cb(new AccessDenied("The proxy holds no keys of its own."));
  }

  override sign(_key: unknown, _data: unknown, cb?: unknown): void {
    if (typeof cb === "function") cb(new AccessDenied("The proxy holds no keys of its own."));
  }

  override getStream(cb: (error: Error | undefined, stream?: Duplex) => void): void {
    openAgentChannel(this.user).then((channel) => cb(undefined, channel), (error) => cb(error));
  }
}
