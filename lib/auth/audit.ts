/**
 * The audit log: every security event goes to the store (queryable by
 * `postern audit` and the web UI) and to `audit.jsonl` in the data dir (one
 * JSON object a line, for log shippers). Events never carry secrets: callers
 * pass names, addresses, fingerprints and counts only.
 *
 * @module
 */

import { join } from "node:path";
import type { AuditEvent, AuditQuery, Store } from "../store/store.ts";
import type { Logger } from "../log.ts";
import { writeAll } from "../net/bytes.ts";

/** Event codes postern emits. */
export type AuditCode =
  | "user.login"
  | "user.login.locked"
  | "login.rate_limited"
  | "user.logout"
  | "user.create"
  | "user.delete"
  | "user.update"
  | "user.web_session.end"
  | "user.reset"
  | "user.lock"
  | "user.unlock"
  | "connection.revoked"
  | "user.password.change"
  | "user.totp.enroll"
  | "mfa.add"
  | "mfa.remove"
  | "cli.login.approve"
  | "session.mfa"
  | "invite.used"
  | "cert.issue"
  | "node.add"
  | "node.remove"
  | "node.host_cert"
  | "session.start"
  | "session.end"
  | "session.recording_failed"
  | "session.join"
  | "session.terminate"
  | "tunnel.start"
  | "tunnel.end"
  | "port.forward"
  | "agent.forward"
  | "sftp.start"
  | "sftp.end"
  | "sftp.read"
  | "sftp.write"
  | "sftp.rename"
  | "sftp.remove"
  | "sftp.mkdir"
  | "sftp.rmdir"
  | "ssh.auth"
  | "token.add"
  | "token.remove"
  | "cluster.join"
  | "proxy.remove";

/** What a caller reports. */
export interface AuditInput {
  code: AuditCode;
  user?: string | null;
  remoteAddr?: string | null;
  success?: boolean;
  fields?: Record<string, unknown>;
}

/**
 * Writes audit events to the store and to audit.jsonl. The two sinks fail
 * independently, and a failed file write is retried with the next event on a
 * freshly opened file: one I/O error never silences the log for good.
 */
export class AuditLog {
  readonly #path: string;
  /** The open file; null after a failure, so the next write opens it afresh. */
  #file: Promise<Deno.FsFile> | null;
  #encoder = new TextEncoder();
  /** File writes in order; never rejects, so one failure cannot block the next write. */
  #writes: Promise<void> = Promise.resolve();
  #fileFailure: string | null = null;

  constructor(private readonly store: Store, dataDir: string, private readonly log: Logger) {
    this.#path = join(dataDir, "audit.jsonl");
    this.#file = this.#open();
    this.#file.catch(() => {}); // reported by the first write
  }

  #open(): Promise<Deno.FsFile> {
    return Deno.open(this.#path, { append: true, create: true, mode: 0o600 });
  }

  /** Why the audit file cannot be written, or null when its last write succeeded. */
  get fileFailure(): string | null {
    return this.#fileFailure;
  }

  /** Records an event; failures to write are logged, never thrown at the caller. */
  async emit(input: AuditInput, now = Date.now()): Promise<void> {
    const event = {
      time: now,
      code: input.code,
      user: input.user ?? null,
      remoteAddr: input.remoteAddr ?? null,
      success: input.success ?? true,
      fields: input.fields ?? {},
    };
    let id: number | null = null;
    try {
      id = (await this.store.audit.append(event)).id;
    } catch (error) {
      this.log.error("cannot store audit event", { code: input.code, error: String(error) });
    }
    const line = JSON.stringify({
      id,
      time: new Date(now).toISOString(),
      code: event.code,
      user: event.user,
      remote_addr: event.remoteAddr,
      success: event.success,
      ...event.fields,
    }) + "\n";
    const written = this.#writes.then(() => this.#append(this.#encoder.encode(line)));
    this.#writes = written.catch((error) => {
      this.log.error("cannot write audit event to audit.jsonl", {
        code: input.code,
        error: String(error),
      });
    });
    await this.#writes;
  }

  async #append(bytes: Uint8Array): Promise<void> {
    try {
      this.#file ??= this.#open();
      await writeAll(await this.#file, bytes);
      this.#fileFailure = null;
    } catch (error) {
      this.#fileFailure = `cannot write ${this.#path}: ${
        error instanceof Error ? error.message : String(error)
      }`;
      const broken = this.#file;
      this.#file = null;
      broken?.then((file) => file.close(), () => {}).catch(() => {});
      throw error;
    }
  }

  /** Events matching `query`. */
  query(query: AuditQuery): Promise<AuditEvent[]> {
    return this.store.audit.query(query);
  }

  /** Closes the JSON lines file. */
  async close(): Promise<void> {
    await this.#writes;
    await this.#file?.then((file) => file.close(), () => {});
  }
}
