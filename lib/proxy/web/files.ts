/**
 * File transfer from the browser terminal: `PUT` uploads the request body
 * to a path on a node, `GET` downloads a file from it, both at
 * `/v1/webapi/sites/<cluster>/nodes/<node>/files?login=<login>&path=<path>`.
 * The proxy logs in to the node as the terminal does (the web session's
 * certificate, signed by auth's agent) and speaks SFTP to the node's
 * `sftp` subsystem itself. Only users whose roles allow `file_transfer`
 * may; files larger than `proxy.web_file_transfer_limit` are refused; each
 * transfer is audited as `sftp.start`, `sftp.write` or `sftp.read`, and
 * `sftp.end`, like SFTP through the gateway. A path without a leading `/`
 * (or starting with `~/`) is in the login's home directory.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Client, SFTPWrapper } from "ssh2";
import type { AuditCode } from "../../auth/audit.ts";
import { formatBytes } from "../../config/schema.ts";
import { AccessDenied, BadRequest, NotFound, TooLarge, Unavailable } from "../../errors.ts";
import { connectToNode, type NodeSessionDeps } from "../node_session.ts";
import { webSessionCredentials } from "../node_login.ts";
import { webSessionHash } from "../revocations.ts";
import { FILE_TRANSFER_DENIED } from "../ssh/file_transfer.ts";
import { discardBody, type RequestContext, type Router } from "./http.ts";
import { type ActiveWebSession, CSRF_HEADER, withSession } from "./api/guard.ts";

/** Bytes asked of the node per SFTP read. */
const READ_BYTES = 64 << 10;
/** SFTP writes sent before waiting for the node to confirm the first. */
const WRITES_IN_FLIGHT = 8;

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that say what the user did wrong. */
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

/** What a transfer is about, once allowed: who, where, and the open SFTP session. */
interface OpenTransfer {
  sftp: SFTPWrapper;
  path: string;
  node: string;
  login: string;
  /** Audits one event of this transfer (with its id, node and login). */
  audit(code: AuditCode, fields: Record<string, unknown>, success?: boolean): Promise<void>;
  /** Logs out of the node and stops tracking the transfer. */
  close(): void;
}

/** The path as SFTP takes it: `~/x` and `x` are both `x` in the home directory. */
export function sftpPath(path: string): string {
  if (path === "~") return ".";
  return path.startsWith("~/") ? path.slice(2) || "." : path;
}

/** A size as the config writes it ("6mb"), to a tenth of a megabyte when it is not round. */
function sizeText(bytes: number): string {
  const exact = formatBytes(bytes);
  return exact.endsWith("mb") || exact.endsWith("gb") || bytes < 1 << 20
    ? exact
    : `${(bytes / (1 << 20)).toFixed(1)}mb`;
}

/** The end of a "too large" message: the limit and where it is set. */
function tooLarge(limit: number): string {
  return `the ${
    sizeText(limit)
  } limit for browser transfers (proxy.web_file_transfer_limit); use sftp or scp through the proxy for larger files`;
}

/** The last part of a path, for the downloaded file's name. */
function baseName(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() || "download";
}

/** The node's refusal as a postern error the user can act on. */
function sftpError(error: unknown, action: string, path: string, node: string): Error {
  const code = (error as { code?: unknown })?.code;
  const where = `"${path}" on ${node}`;
  if (code === SFTP_NO_SUCH_FILE) {
    return new NotFound(`Cannot ${action} ${where}: no such file or directory; check the path.`);
  }
  if (code === SFTP_PERMISSION_DENIED) {
    return new AccessDenied(
      `Cannot ${action} ${where}: permission denied for this login; pick a path it may use.`,
    );
  }
  return new Unavailable(`Cannot ${action} ${where}: ${(error as Error)?.message ?? error}.`, {
    cause: error,
  });
}

function call<T>(fn: (cb: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    fn((error, value) => error ? reject(error) : resolve(value))
  );
}

/** Checks the request, logs in to the node and opens SFTP there; audits a refusal. */
async function openTransfer(
  deps: NodeSessionDeps,
  request: Request,
  context: RequestContext & { session: ActiveWebSession; sessionId: string },
): Promise<OpenTransfer> {
  const { session, sessionId, params, url } = context;
  if (params.cluster !== deps.auth.cluster) throw new NotFound(`No cluster "${params.cluster}".`);
  const login = url.searchParams.get("login") ?? "";
  const path = url.searchParams.get("path")?.trim() ?? "";
  if (!login || !path) throw new BadRequest(`Query parameters "login" and "path" are required.`);
  // Browsers send the token on fetches only: a link or form from elsewhere cannot start a transfer.
  if (!sessionId || !session.checkCsrf(request.headers.get(CSRF_HEADER))) {
    throw new AccessDenied("Missing or invalid CSRF token; reload the page and try again.");
  }
  const base = { transfer_id: crypto.randomUUID(), node: params.node, login, via: "web" };
  const audit = (code: AuditCode, fields: Record<string, unknown>, success = true) =>
    deps.auth.audit({
      code,
      user: session.identity.user,
      remoteAddr: context.remoteAddr,
      success,
      fields: { ...base, ...fields },
    });
  let client: Client | undefined;
  try {
    if (!session.identity.fileTransfer) throw new AccessDenied(FILE_TRANSFER_DENIED);
    const authorized = await deps.auth.authorizeNode(session.proof, params.node, login);
    const credentials = await webSessionCredentials(deps.auth, sessionId);
    const node = client = await connectToNode(deps, authorized, credentials);
    const sftp = await call<SFTPWrapper>((cb) => node.sftp(cb)).catch((error) => {
      throw new Unavailable(
        `Node "${params.node}" refused file transfer (its sshd has no sftp subsystem); ask its administrator.`,
        { cause: error },
      );
    });
    // No transfer that auth has not heard of.
    await audit("sftp.start", { path });
    const untrack = deps.connections.track({
      user: session.identity.user,
      kind: "web file transfer",
      webSessionHash: webSessionHash(sessionId),
      close: () => node.end(),
    });
    return {
      sftp,
      path,
      node: params.node,
      login,
      audit,
      close() {
        untrack();
        node.end();
      },
    };
  } catch (error) {
    client?.end();
    await audit("sftp.start", { path, error: (error as Error).message }, false).catch(() => {});
    throw error;
  }
}

/** Writes the request body to the transfer's path; returns the bytes written. */
async function upload(
  transfer: OpenTransfer,
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<number> {
  const { sftp, path, node } = transfer;
  const handle = await call<Buffer>((cb) => sftp.open(sftpPath(path), "w", cb as never))
    .catch((error) => {
      throw sftpError(error, "write", path, node);
    });
  let written = 0;
  const inFlight: Promise<void>[] = [];
  try {
    for await (const chunk of body) {
      if (limit > 0 && written + chunk.byteLength > limit) {
        throw new TooLarge(
          `The file is larger than the ${limit}-byte limit for browser transfers.`,
        );
      }
      const position = written;
      written += chunk.byteLength;
      inFlight.push(
        call<void>((cb) =>
          sftp.write(
            handle,
            Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
            0,
            chunk.byteLength,
            position,
            cb as never,
          )
        ),
      );
      if (inFlight.length >= WRITES_IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } catch (error) {
    await Promise.allSettled(inFlight);
    // Half a file is worse than none: the user would take it for the upload.
    await call<void>((cb) => sftp.close(handle, cb as never)).catch(() => {});
    await call<void>((cb) => sftp.unlink(sftpPath(path), cb as never)).catch(() => {});
    throw error instanceof TooLarge ? error : sftpError(error, "write", path, node);
  }
  await call<void>((cb) => sftp.close(handle, cb as never)).catch((error) => {
    throw sftpError(error, "write", path, node);
  });
  return written;
}

/** Streams the transfer's path from the node; `done` settles with the bytes sent. */
async function download(
  transfer: OpenTransfer,
  limit: number,
): Promise<{ size: number; body: ReadableStream<Uint8Array>; done: Promise<number> }> {
  const { sftp, path, node } = transfer;
  const remote = sftpPath(path);
  const stats = await call<{ size: number; isDirectory(): boolean }>((cb) =>
    sftp.stat(remote, cb as never)
  ).catch((error) => {
    throw sftpError(error, "read", path, node);
  });
  if (stats.isDirectory()) {
    throw new BadRequest(`"${path}" on ${node} is a directory; give the path of a file.`);
  }
  if (limit > 0 && stats.size > limit) {
    throw new TooLarge(
      `"${path}" is ${sizeText(stats.size)}, more than ${tooLarge(limit)}.`,
    );
  }
  const handle = await call<Buffer>((cb) => sftp.open(remote, "r", cb as never))
    .catch((error) => {
      throw sftpError(error, "read", path, node);
    });
  let sent = 0;
  const finished = Promise.withResolvers<number>();
  const finish = (error?: unknown) => {
    sftp.close(handle, () => {});
    if (error) finished.reject(error);
    else finished.resolve(sent);
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // Never more than the size announced in Content-Length, should the file grow meanwhile.
        const want = Math.min(READ_BYTES, stats.size - sent);
        const chunk = Buffer.alloc(Math.max(want, 1));
        const read = want <= 0
          ? 0
          : await new Promise<number>((resolve, reject) =>
            sftp.read(handle, chunk, 0, want, sent, (error, bytes) => {
              // The end of the file comes as an "end of file" status, not as 0 bytes.
              if (error && (error as { code?: unknown }).code === 1) resolve(0);
              else if (error) reject(error);
              else resolve(bytes);
            })
          );
        if (read === 0) {
          controller.close();
          return finish();
        }
        sent += read;
        controller.enqueue(chunk.subarray(0, read));
      } catch (error) {
        controller.error(error);
        finish(sftpError(error, "read", path, node));
      }
    },
    cancel() {
      finish(new Unavailable("The browser stopped the download."));
    },
  }, { highWaterMark: 4 });
  return { size: stats.size, body, done: finished.promise };
}

/**
 * Installs the browser file transfer routes.
 *
 * @param router the web API router
 * @param deps how the proxy reaches nodes (the terminal's)
 * @param limit the largest file moved either way, in bytes (0: no limit)
 */
export function fileRoutes(router: Router, deps: NodeSessionDeps, limit: number): void {
  const path = "/v1/webapi/sites/:cluster/nodes/:node/files";
  router.on(
    "PUT",
    path,
    withSession(deps.auth, async (request, context) => {
      const declared = Number(request.headers.get("content-length") ?? "0");
      if (limit > 0 && declared > limit) {
        await discardBody(request);
        throw new TooLarge(
          `The file is ${sizeText(declared)}, more than ${tooLarge(limit)}.`,
        );
      }
      const transfer = await openTransfer(deps, request, context).catch(async (error) => {
        await discardBody(request);
        throw error;
      });
      let written = 0;
      try {
        written = await upload(transfer, request.body ?? ReadableStream.from([]), limit);
        await transfer.audit("sftp.write", { path: transfer.path, bytes_written: written });
      } catch (error) {
        await transfer.audit(
          "sftp.write",
          { path: transfer.path, bytes_written: written, error: (error as Error).message },
          false,
        );
        throw error;
      } finally {
        transfer.close();
        await transfer.audit("sftp.end", { bytes_up: written, bytes_down: 0 }).catch(() => {});
      }
      return new Response(JSON.stringify({ path: transfer.path, bytes: written }), {
        status: 201,
        headers: { "content-type": "application/json" },
      });
    }),
  );
  router.on(
    "GET",
    path,
    withSession(deps.auth, async (request, context) => {
      const transfer = await openTransfer(deps, request, context);
      let sent: Awaited<ReturnType<typeof download>>;
      try {
        sent = await download(transfer, limit);
      } catch (error) {
        transfer.close();
        await transfer.audit(
          "sftp.read",
          { path: transfer.path, error: (error as Error).message },
          false,
        )
          .catch(() => {});
        await transfer.audit("sftp.end", { bytes_up: 0, bytes_down: 0 }).catch(() => {});
        throw error;
      }
      sent.done.then(
        async (bytes) => {
          await transfer.audit("sftp.read", { path: transfer.path, bytes_read: bytes });
          return bytes;
        },
        async (error) => {
          await transfer.audit("sftp.read", { path: transfer.path, error: error.message }, false);
          return 0;
        },
      ).then((bytes) => transfer.audit("sftp.end", { bytes_up: 0, bytes_down: bytes }))
        .catch((error) => deps.log.error("cannot audit file transfer", { error: String(error) }))
        .finally(() => transfer.close());
      const name = baseName(transfer.path);
      return new Response(sent.body, {
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(sent.size),
          "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
          "cache-control": "no-store",
        },
      });
    }),
  );
}
