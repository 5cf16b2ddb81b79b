/**
 * Reads a node's SSH host key without logging in: the key exchange runs up to
 * host key verification, the key is kept, and the connection is dropped.
 * `postern nodes add` pins the key it returns.
 *
 * @module
 */

import ssh2 from "ssh2";
import { parseHostPort } from "../config/schema.ts";
import { BadRequest, Unavailable } from "../errors.ts";
import { denoConnDuplex } from "../net/conn_duplex.ts";
import { networkFailureReason } from "../net/failure_reason.ts";
import { formatKeyLine } from "../sshcert/mod.ts";

function keyType(blob: Uint8Array): string {
  const length = new DataView(blob.buffer, blob.byteOffset).getUint32(0);
  return new TextDecoder().decode(blob.subarray(4, 4 + length));
}

/**
 * Returns the host key of the sshd at `addr` as an authorized_keys line.
 *
 * @example
 * ```ts
 * const line = await probeHostKey("127.0.0.1:2222");
 * ```
 */
export async function probeHostKey(addr: string, timeoutMs = 10_000): Promise<string> {
  const target = parseHostPort(addr);
  if (!target) throw new BadRequest(`Node address "${addr}" is not host:port.`);
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({
      hostname: target.hostname,
      port: target.port,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const reason = networkFailureReason(error);
    throw new Unavailable(`Cannot read the host key of ${addr}: ${reason}.`, { cause: error });
  }
  const client = new ssh2.Client();
  return await new Promise<string>((resolve, reject) => {
    let seen: string | undefined;
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      client.end();
      try {
        conn.close();
      } catch { /* closed */ }
      if (seen) resolve(seen);
      else {reject(
          new Unavailable(
            `Cannot read the host key of ${addr}: it did not complete an SSH handshake.`,
          ),
        );}
    };
    client.on("error", finish);
    client.on("close", finish);
    client.connect({
      sock: denoConnDuplex(conn) as never,
      username: "postern-probe",
      readyTimeout: timeoutMs,
      algorithms: {
        serverHostKey: ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"],
      },
      hostVerifier: (key: Uint8Array) => {
        const blob = new Uint8Array(key);
        seen = formatKeyLine(keyType(blob), blob);
        queueMicrotask(finish);
        return false;
      },
    });
  });
}

/**
 * Returns the host certificates the sshd at `addr` presents, as
 * authorized_keys-style lines, using OpenSSH's `ssh-keyscan -c` (ssh2 cannot
 * negotiate certificate host keys). An empty list when it presents none.
 */
export async function probeHostCertificates(addr: string, timeoutMs = 10_000): Promise<string[]> {
  const target = parseHostPort(addr);
  if (!target) throw new BadRequest(`Node address "${addr}" is not host:port.`);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("ssh-keyscan", {
      args: [
        "-c",
        "-T",
        String(Math.ceil(timeoutMs / 1000)),
        "-p",
        String(target.port),
        target.hostname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Unavailable(
      `Cannot read the host certificates of ${addr}: ssh-keyscan is not available (${
        (error as Error).message
      }).`,
    );
  }
  // `ssh-keyscan -c` prints bare certificate lines (no host name field).
  return new TextDecoder().decode(output.stdout).split("\n")
    .map((line) => line.trim())
    .filter((line) => /^[a-z0-9-]+-cert-v01@openssh\.com /.test(line));
}
