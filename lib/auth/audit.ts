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

/** Event codes postern emits. */
export type AuditCode =
  | "user.login"
  | "user.login.locked"
  | "user.logout"
  | "user.create"
  | "user.delete"
  | "user.reset"
  | "user.password.change"
  | "user.totp.enroll"
  | "invite.used"
  | "cert.issue"
  | "node.add"
  | "node.remove"
  | "node.host_cert"
  | "session.start"
  | "session.end"
  | "session.join"
  | "tunnel.start"
  | "tunnel.end"
  | "port.forward"
  | "ssh.auth";

/** What a caller reports. */
export interface AuditInput {
  code: AuditCode;
  user?: string | null;
  remoteAddr?: string | null;
  success?: boolean;
  fields?: Record<string, unknown>;
}

/** Writes audit events to the store and to audit.jsonl. */
export class AuditLog {
  #file: Promise<Deno.FsFile>;
  #encoder = new TextEncoder();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: Store, dataDir: string, private readonly log: Logger) {
    this.#file = Deno.open(join(dataDir, "audit.jsonl"), {
      append: true,
      create: true,
      mode: 0o600,
    });
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
    try {
      const stored = await this.store.audit.append(event);
      const line = JSON.stringify({
        id: stored.id,
        time: new Date(now).toISOString(),
        code: event.code,
        user: event.user,
        remote_addr: event.remoteAddr,
        success: event.success,
        ...event.fields,
      }) + "\n";
      const bytes = this.#encoder.encode(line);
      this.#queue = this.#queue.then(async () => {
        const file = await this.#file;
        await file.write(bytes);
      });
      await this.#queue;
    } catch (error) {
      this.log.error("cannot write audit event", { code: input.code, error: String(error) });
    }
  }

  /** Events matching `query`. */
  query(query: AuditQuery): Promise<AuditEvent[]> {
    return this.store.audit.query(query);
  }

  /** Closes the JSON lines file. */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    (await this.#file).close();
  }
}
