/**
 * File transfer on proxy-terminated connections (`sftp -P 3023
 * login:node@proxy`, and `scp`, which speaks SFTP): the proxy logs in to the
 * node with a certificate minted for the user, opens the node's `sftp`
 * subsystem and relays the user's SFTP packets to it, auditing what happens
 * to files on the way (lib/proxy/sftp_audit.ts). File contents are not
 * recorded. Only users whose roles allow `file_transfer` may.
 *
 * @module
 */

import type { ClientChannel, ServerChannel } from "ssh2";
import { AccessDenied, Unavailable } from "../../errors.ts";
import { joinChannels } from "../../net/join_channels.ts";
import { connectToNode, type NodeSessionDeps } from "../node_session.ts";
import { nodeLoginCredentials } from "../node_login.ts";
import { SftpAudit, SftpAuditError, type SftpEvent } from "../sftp_audit.ts";
import type { Authenticated } from "./authenticate.ts";
import { failChannel, sendExitStatus, userMessage } from "./messages.ts";

/** File events waiting for auth beyond this hold the relay until auth catches up. */
const AUDIT_BACKLOG = 256;

/** The refusal a user without `file_transfer` sees. */
export const FILE_TRANSFER_DENIED =
  "Your roles do not allow file transfer (sftp, scp); ask an administrator for a role with file_transfer: true.";

/**
 * Serves an `sftp` subsystem channel of a `login:node` connection until
 * either side closes it.
 *
 * @param channel the user's subsystem channel, accepted
 * @param who what was authorised: the identity, login and node
 * @param deps shared services
 * @param remoteAddr the user's address, for audit
 */
export async function runFileTransfer(
  channel: ServerChannel,
  who: Authenticated & { target: { node: string } },
  deps: NodeSessionDeps,
  remoteAddr: string,
): Promise<void> {
  const transferId = crypto.randomUUID();
  const base = { transfer_id: transferId, node: who.target.node, login: who.target.login };
  const event = (
    code: SftpEvent["code"] | "sftp.start" | "sftp.end",
    fields: Record<string, unknown>,
    success: boolean,
  ) => ({ code, user: who.identity.user, remoteAddr, success, fields: { ...base, ...fields } });
  const audit = (
    code: SftpEvent["code"] | "sftp.start" | "sftp.end",
    fields = {},
    success = true,
  ) =>
    deps.auth.audit(event(code, fields, success)).catch((error) =>
      deps.log.error("cannot audit file transfer", { code, error: String(error) })
    );
  let toNode: ClientChannel;
  let endNode: () => void;
  try {
    ({ toNode, endNode } = await openNodeSftp(channel, who, deps));
  } catch (error) {
    const message = userMessage(error, deps.log);
    await audit("sftp.start", { error: message }, false);
    return failChannel(channel, message);
  }
  try {
    // No transfer that auth has not heard of.
    await deps.auth.audit(event("sftp.start", {}, true));
  } catch (error) {
    endNode();
    deps.log.error("cannot audit file transfer", { code: "sftp.start", error: String(error) });
    return failChannel(
      channel,
      "Cannot start the file transfer: the proxy cannot audit it (auth is unreachable); try again later.",
    );
  }

  const files = new SftpAudit();
  let backlog = 0;
  let reported = Promise.resolve();
  const report = (events: SftpEvent[]): Promise<void> | undefined => {
    if (events.length === 0) return undefined;
    backlog += events.length;
    reported = reported.then(async () => {
      for (const event of events) {
        await audit(event.code, event.fields, event.success);
        backlog--;
      }
    });
    return backlog > AUDIT_BACKLOG ? reported : undefined;
  };
  passExitStatus(toNode, channel);
  const moved = await joinChannels(channel, toNode, {
    inspect: (chunk, direction) =>
      report(direction === "forward" ? files.fromClient(chunk) : files.fromServer(chunk)),
  });
  endNode();
  await report(files.finish());
  await reported;
  const broken = moved.error instanceof SftpAuditError ? moved.error.message : undefined;
  if (moved.error && !broken) deps.log.error("sftp relay failed", { error: String(moved.error) });
  await audit("sftp.end", {
    bytes_up: moved.forward,
    bytes_down: moved.back,
    ...(broken ? { error: `the proxy could not follow the SFTP stream: ${broken}` } : {}),
  }, !moved.error);
}

/**
 * Passes the node's exit status on, once the user has the output before it:
 * scp fails a copy whose ssh reports no exit status.
 */
function passExitStatus(toNode: ClientChannel, channel: ServerChannel): void {
  toNode.once("exit", (code: number | null) => {
    const send = () => {
      try {
        sendExitStatus(channel, code ?? 255);
      } catch { /* the user is gone */ }
    };
    if (channel.writableNeedDrain) channel.once("drain", send);
    else send();
  });
}

/** Logs in to the node and opens its `sftp` subsystem; gives up if the user leaves first. */
async function openNodeSftp(
  channel: ServerChannel,
  who: Authenticated & { target: { node: string } },
  deps: NodeSessionDeps,
): Promise<{ toNode: ClientChannel; endNode: () => void }> {
  if (!who.identity.fileTransfer) throw new AccessDenied(FILE_TRANSFER_DENIED);
  let userLeft = false;
  channel.once("close", () => (userLeft = true));
  const { proof, target, validBefore } = who;
  const authorized = await deps.auth.authorizeNode(proof, target.node, target.login);
  const credentials = await nodeLoginCredentials(deps.auth, proof, target.login, validBefore);
  const node = await connectToNode(deps, authorized, credentials);
  try {
    if (userLeft) throw new Unavailable("The client left before the transfer started.");
    const toNode = await new Promise<ClientChannel>((resolve, reject) =>
      node.subsys("sftp", (error, opened) =>
        error
          ? reject(
            new Unavailable(
              `Node "${target.node}" refused file transfer (its sshd has no sftp subsystem); ask its administrator.`,
              { cause: error },
            ),
          )
          : resolve(opened))
    );
    if (userLeft) throw new Unavailable("The client left before the transfer started.");
    return { toNode, endNode: () => node.end() };
  } catch (error) {
    node.end();
    throw error;
  }
}
