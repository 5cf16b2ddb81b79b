/**
 * Port forwarding in proxy-terminated connections (`ssh -L/-R -p 3023
 * login:node@proxy`, `postern ssh -L/-R`): the proxy holds its own SSH
 * connection to the node, opened on first use with a certificate minted for
 * the user, and forwards through it as OpenSSH's sshd would:
 *
 * - local (`-L`): a `direct-tcpip` channel from the user becomes a
 *   `direct-tcpip` channel from the proxy to the node, which connects to the
 *   destination as seen from the node;
 * - remote (`-R`): a `tcpip-forward` request makes the node listen; each
 *   connection the node accepts comes back to the user as `forwarded-tcpip`.
 *
 * Only users whose roles allow port forwarding may; every forward is audited.
 *
 * @module
 */

import type { Client, ClientChannel, Connection, ServerChannel, TcpipRequestInfo } from "ssh2";
import { AccessDenied, Unavailable } from "../../errors.ts";
import { joinChannels } from "../../net/join_channels.ts";
import { channelOpenFailureReason } from "../../net/failure_reason.ts";
import { connectToNode, type NodeSessionDeps } from "../node_session.ts";
import { nodeLoginCredentials } from "../node_login.ts";
import type { Authenticated } from "./authenticate.ts";
import { rejectChannelOpen, userMessage } from "./messages.ts";

/** A remote listener on the node, as requested by the user. */
interface RemoteListener {
  bindAddr: string;
  /** The port the user asked for (0: the node chose `boundPort`). */
  bindPort: number;
  boundPort: number;
}

/** Forwards ports for one proxy-terminated connection. */
export class PortForwarder {
  #node: Promise<Client> | undefined;
  #listeners: RemoteListener[] = [];
  #closed = false;

  /**
   * @param user the gateway connection of the user
   * @param who what was authorised: the identity, login and node (`login:node`)
   * @param deps shared services
   * @param remoteAddr the user's address, for audit
   */
  constructor(
    readonly user: Connection,
    readonly who: Authenticated & { target: { node: string } },
    readonly deps: NodeSessionDeps,
    readonly remoteAddr: string,
  ) {
    user.on("close", () => this.close());
  }

  /** A `direct-tcpip` channel open from the user: forwards it through the node. */
  async openLocal(
    accept: () => ServerChannel,
    reject: () => void,
    info: TcpipRequestInfo,
  ): Promise<void> {
    const dest = `${info.destIP}:${info.destPort}`;
    let toNode: ClientChannel;
    try {
      const node = await this.#connect();
      toNode = await new Promise<ClientChannel>((resolve, fail) =>
        node.forwardOut(
          info.srcIP,
          info.srcPort,
          info.destIP,
          info.destPort,
          (error, channel) =>
            error
              ? fail(
                new Unavailable(
                  `Node "${this.who.target.node}" cannot connect to ${dest}: ${
                    channelOpenFailureReason(error)
                  }.`,
                  { cause: error },
                ),
              )
              : resolve(channel),
        )
      );
    } catch (error) {
      await this.#audit("local", dest, error);
      return rejectChannelOpen(this.user, reject, userMessage(error, this.deps.log));
    }
    await this.#audit("local", dest);
    void joinChannels(accept(), toNode);
  }

  /**
   * A `tcpip-forward` request: makes the node listen and sends each of its
   * connections back to the user.
   *
   * @returns the port the node listens on
   */
  async listenRemote(bindAddr: string, bindPort: number): Promise<number> {
    const where = `${bindAddr || "localhost"}:${bindPort}`;
    try {
      const node = await this.#connect();
      const boundPort = await new Promise<number>((resolve, fail) =>
        node.forwardIn(bindAddr, bindPort, (error, port) => {
          if (error) {
            return fail(
              new Unavailable(
                `Node "${this.who.target.node}" refused to listen on ${where}.`,
                { cause: error },
              ),
            );
          }
          // Registered at once: the node's first connection may be in the
          // same read as this reply, before any promise continuation runs.
          const listener = { bindAddr, bindPort, boundPort: port || bindPort };
          this.#listeners.push(listener);
          resolve(listener.boundPort);
        })
      );
      await this.#audit("remote", `${bindAddr || "localhost"}:${boundPort}`);
      return boundPort;
    } catch (error) {
      await this.#audit("remote", where, error);
      throw error;
    }
  }

  /** A `cancel-tcpip-forward` request: stops the node's listener. */
  async cancelRemote(bindAddr: string, bindPort: number): Promise<void> {
    const index = this.#listeners.findIndex((l) =>
      l.bindAddr === bindAddr && (l.bindPort === bindPort || l.boundPort === bindPort)
    );
    if (index < 0 || !this.#node) throw new Unavailable(`No forward on ${bindAddr}:${bindPort}.`);
    const [listener] = this.#listeners.splice(index, 1);
    const node = await this.#node;
    await new Promise<void>((resolve) =>
      node.unforwardIn(listener.bindAddr, listener.boundPort, () => resolve())
    );
  }

  /** Ends the node connection (the user's connection is gone). */
  close(): void {
    this.#closed = true;
    this.#node?.then((node) => node.end(), () => {});
  }

  #connect(): Promise<Client> {
    if (!this.who.identity.portForwarding) {
      return Promise.reject(
        new AccessDenied("Your roles do not allow port forwarding; ask an administrator."),
      );
    }
    if (this.#closed) return Promise.reject(new Unavailable("The connection is closing."));
    this.#node ??= this.#login();
    return this.#node;
  }

  async #login(): Promise<Client> {
    const { proof, target, validBefore } = this.who;
    try {
      const authorized = await this.deps.auth.authorizeNode(proof, target.node, target.login);
      const credentials = await nodeLoginCredentials(
        this.deps.auth,
        proof,
        target.login,
        validBefore,
      );
      const node = await connectToNode(this.deps, authorized, credentials);
      node.on("tcp connection", (details, accept, reject) => {
        const listener = this.#listeners.find((l) => l.boundPort === details.destPort);
        if (!listener) return reject();
        this.user.forwardOut(
          listener.bindAddr,
          listener.boundPort,
          details.srcIP,
          details.srcPort,
          (error, toUser) => {
            if (error) return reject();
            void joinChannels(toUser, accept());
          },
        );
      });
      node.on("close", () => {
        this.#node = undefined;
        this.#listeners = [];
      });
      if (this.#closed) node.end();
      return node;
    } catch (error) {
      this.#node = undefined;
      throw error;
    }
  }

  async #audit(kind: "local" | "remote", addr: string, error?: unknown): Promise<void> {
    await this.deps.auth.audit({
      code: "port.forward",
      user: this.who.identity.user,
      remoteAddr: this.remoteAddr,
      success: error === undefined,
      fields: {
        kind,
        node: this.who.target.node,
        login: this.who.target.login,
        addr,
        ...(error === undefined ? {} : { error: userMessage(error, this.deps.log) }),
      },
    });
  }
}
