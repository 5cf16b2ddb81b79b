/**
 * The agent's unix socket: bound so that nobody but its owner can ever connect
 * (private folder, chmod, then rename into place), replacing a stale socket left
 * by a dead agent but never a live one, and removed on close only while it is
 * still ours.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { BadRequest, Conflict, Unavailable } from "../errors.ts";

/** Longest unix socket path Linux accepts (`sun_path` is 108 bytes with its NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/** A listener whose socket is at `path`, and how to remove what was created. */
export interface PlacedListener {
  listener: Deno.Listener;
  path: string;
  cleanup(): Promise<void>;
}

/**
 * Binds the socket so that it is never reachable with loose permissions: bind in
 * a fresh 0700 folder, chmod 0600, then rename it into place (same file system).
 * A connection accepted by the kernel stays accepted after a later chmod, so
 * chmod after binding in a shared folder would leave a window.
 *
 * @param requested where the socket goes; `undefined` for
 *   `<fresh 0700 temp folder postern-agent-XXXX>/agent.sock`. Its folder is
 *   created (0700) when missing; a stale socket there is replaced.
 * @returns the listener, the socket's path, and `cleanup` that removes the socket
 *   (only while it is still this one) or the temp folder
 * @throws {BadRequest} when the path is too long to bind
 * @throws {Conflict} when another agent serves the path or a non-socket file is in the way
 * @throws {Unavailable} when the socket cannot be bound
 * @example
 * ```ts
 * const placed = await listenPrivately(undefined);
 * console.log(`SSH_AUTH_SOCK=${placed.path}`);
 * placed.listener.close();
 * await placed.cleanup();
 * ```
 */
export async function listenPrivately(requested: string | undefined): Promise<PlacedListener> {
  if (requested === undefined) {
    const dir = await Deno.makeTempDir({ prefix: "postern-agent-" });
    await Deno.chmod(dir, 0o700);
    const path = join(dir, "agent.sock");
    const listener = listenUnix(path);
    await Deno.chmod(path, 0o600);
    return {
      listener,
      path,
      cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
    };
  }

  const path = requested;
  checkSocketPathLength(path, `unix socket paths are limited to ${MAX_SOCKET_PATH_BYTES} bytes`);
  const parent = dirname(path);
  await Deno.mkdir(parent, { recursive: true, mode: 0o700 });
  await removeStaleSocket(path);
  const staging = await Deno.makeTempDir({ dir: parent, prefix: ".pa" });
  try {
    const stagingPath = join(staging, "s");
    checkSocketPathLength(
      stagingPath,
      "its folder's path leaves no room for the temporary name the socket is bound under",
      path,
    );
    const listener = listenUnix(stagingPath);
    let inode: number | null;
    try {
      await Deno.chmod(stagingPath, 0o600);
      await Deno.rename(stagingPath, path);
      inode = (await Deno.lstat(path)).ino;
    } catch (error) {
      listener.close();
      throw error;
    }
    return { listener, path, cleanup: () => removeOwnSocket(path, inode) };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

function listenUnix(path: string): Deno.Listener {
  try {
    return Deno.listen({ transport: "unix", path });
  } catch (error) {
    throw new Unavailable(`Cannot listen on ${JSON.stringify(path)}: ${messageOfOs(error)}`, {
      cause: error,
    });
  }
}

function messageOfOs(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Throws BadRequest naming `shownPath` and `problem` when `path` is too long to bind. */
function checkSocketPathLength(path: string, problem: string, shownPath = path): void {
  if (new TextEncoder().encode(path).length > MAX_SOCKET_PATH_BYTES) {
    throw new BadRequest(
      `Cannot listen on ${JSON.stringify(shownPath)}: ${problem}; choose a shorter --socket path`,
    );
  }
}

/** Removes the socket at `path` unless another agent has replaced it since. */
async function removeOwnSocket(path: string, inode: number | null): Promise<void> {
  try {
    if ((await Deno.lstat(path)).ino === inode) await Deno.remove(path);
  } catch {
    // Gone already.
  }
}

/** Removes a socket nobody listens on; refuses to touch a live one or a regular file. */
async function removeStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) {
    throw new Conflict(
      `Cannot listen on ${JSON.stringify(path)}: a file that is not a socket is in the way; ` +
        "remove it or choose another --socket path",
    );
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
  } catch {
    await Deno.remove(path);
    return;
  }
  throw new Conflict(
    `Cannot listen on ${JSON.stringify(path)}: another agent is serving it; stop it or ` +
      "choose another --socket path",
  );
}
