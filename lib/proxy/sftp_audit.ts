/**
 * What an SFTP session does with files, read from the packets the proxy
 * relays between the user's client and the node's sftp-server (protocol
 * version 3, draft-ietf-secsh-filexfer-02, as OpenSSH speaks it): files
 * opened, with the bytes read and written through each handle, renames,
 * removals, directories made and removed. File contents are never kept.
 *
 * The bytes are only observed, never changed. Memory stays bounded whatever
 * the peers send: of each packet only its first bytes are kept (a few hundred
 * for READ replies and WRITE requests), lengths are checked against the
 * packet they sit in, and outstanding requests and open handles are capped.
 * A stream that breaks these rules throws {@link SftpAuditError}: the caller
 * ends the session rather than relay what it cannot audit.
 *
 * @module
 */

/** Largest SFTP packet accepted (OpenSSH's sftp-server takes 256 KiB at most). */
export const MAX_PACKET_BYTES = 1 << 20;
/** Requests awaiting their reply that are tracked at once. */
export const MAX_PENDING_REQUESTS = 4096;
/** Open file handles tracked at once. */
export const MAX_OPEN_FILES = 1024;
/** Bytes kept of a packet: enough for two paths at their usual limit (PATH_MAX). */
const HEAD_BYTES = 16 * 1024;
/** Bytes kept of a READ reply or WRITE request: everything before the data. */
const DATA_HEAD_BYTES = 512;
/** Longest handle the protocol allows. */
const MAX_HANDLE_BYTES = 256;

/** Packet types (version 3). */
const FXP = {
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  RENAME: 18,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  EXTENDED: 200,
} as const;

/** SSH_FXF_* open flags that make an open a write. */
const WRITE_FLAGS = 0x02 | 0x04 | 0x08 | 0x10 | 0x20;

const STATUS_NAMES = [
  "ok",
  "end of file",
  "no such file",
  "permission denied",
  "failure",
  "bad message",
  "no connection",
  "connection lost",
  "operation unsupported",
];

/** An audit event about one file operation. */
export interface SftpEvent {
  code: "sftp.read" | "sftp.write" | "sftp.rename" | "sftp.remove" | "sftp.mkdir" | "sftp.rmdir";
  success: boolean;
  fields: {
    path: string;
    /** sftp.rename: the new name. */
    new_path?: string;
    /** sftp.read, sftp.write: bytes read through the handle. */
    bytes_read?: number;
    /** sftp.write: bytes written through the handle. */
    bytes_written?: number;
    /** The session ended with the file still open. */
    unclosed?: true;
    /** Why the node refused. */
    error?: string;
  };
}

/** The SFTP stream broke the protocol or the proxy's limits; the session must end. */
export class SftpAuditError extends Error {
  override name = "SftpAuditError";
}

/** One packet as far as it was kept: its type, its first bytes, and its whole length. */
interface PacketHead {
  type: number;
  /** The packet after its length field, up to the bytes kept (type byte included). */
  head: Uint8Array;
  /** Length of the whole packet after its length field. */
  length: number;
}

/**
 * Cuts a byte stream into SFTP packets, keeping only the start of each.
 * Chunks may split packets anywhere, including inside the length field.
 */
class PacketSplitter {
  #lengthBytes = new Uint8Array(4);
  #lengthHave = 0;
  /** Of the current packet: its length, bytes seen, and the kept head. */
  #length = 0;
  #seen = 0;
  #head = new Uint8Array(HEAD_BYTES);
  #keep = 0;

  constructor(private readonly onPacket: (packet: PacketHead) => void) {}

  feed(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#lengthHave < 4) {
        this.#lengthBytes[this.#lengthHave++] = chunk[at++];
        if (this.#lengthHave === 4) this.#startPacket();
        continue;
      }
      const take = Math.min(chunk.length - at, this.#length - this.#seen);
      if (this.#seen === 0) {
        this.#keep = chunk[at] === FXP.WRITE || chunk[at] === FXP.DATA
          ? Math.min(this.#length, DATA_HEAD_BYTES)
          : Math.min(this.#length, HEAD_BYTES);
      }
      if (this.#seen < this.#keep) {
        const copy = Math.min(take, this.#keep - this.#seen);
        this.#head.set(chunk.subarray(at, at + copy), this.#seen);
      }
      this.#seen += take;
      at += take;
      if (this.#seen === this.#length) {
        this.#lengthHave = 0;
        this.onPacket({
          type: this.#head[0],
          head: this.#head.subarray(0, this.#keep),
          length: this.#length,
        });
      }
    }
  }

  #startPacket(): void {
    const view = new DataView(this.#lengthBytes.buffer);
    this.#length = view.getUint32(0);
    this.#seen = 0;
    if (this.#length < 5 || this.#length > MAX_PACKET_BYTES) {
      throw new SftpAuditError(`an SFTP packet of ${this.#length} bytes`);
    }
  }
}

/** Reads SSH wire fields from a packet's kept head, checking every length. */
class FieldReader {
  #at = 1;
  readonly #view: DataView;

  constructor(private readonly packet: PacketHead) {
    this.#view = new DataView(packet.head.buffer, packet.head.byteOffset, packet.head.length);
  }

  uint32(): number {
    if (this.#at + 4 > this.packet.head.length) throw this.#short();
    const value = this.#view.getUint32(this.#at);
    this.#at += 4;
    return value;
  }

  skip(bytes: number): void {
    this.#at += bytes;
  }

  /** A string's bytes; only its kept part when it runs past the head (a path past 16 KiB). */
  bytes(): Uint8Array {
    const length = this.uint32();
    if (this.#at + length > this.packet.length) {
      throw new SftpAuditError("an SFTP field longer than its packet");
    }
    const start = this.#at;
    this.#at += length;
    return this.packet.head.subarray(start, Math.min(this.#at, this.packet.head.length));
  }

  /** A string's declared length, checked against the packet, without reading it. */
  length(): number {
    const length = this.uint32();
    if (this.#at + length > this.packet.length) {
      throw new SftpAuditError("an SFTP field longer than its packet");
    }
    this.#at += length;
    return length;
  }

  text(): string {
    return new TextDecoder().decode(this.bytes());
  }

  #short(): SftpAuditError {
    return new SftpAuditError(`an SFTP packet of type ${this.packet.type} too short`);
  }
}

/** A file opened through the session. */
interface OpenFile {
  path: string;
  write: boolean;
  bytesRead: number;
  bytesWritten: number;
}

/** A request whose reply decides what is audited. */
type Pending =
  | { kind: "open"; path: string; write: boolean }
  | { kind: "read"; handle: string }
  | { kind: "write"; handle: string; bytes: number }
  | { kind: "close"; handle: string }
  | {
    kind: "path";
    code: "sftp.rename" | "sftp.remove" | "sftp.mkdir" | "sftp.rmdir";
    path: string;
    newPath?: string;
  };

function handleKey(bytes: Uint8Array): string {
  if (bytes.length > MAX_HANDLE_BYTES) {
    throw new SftpAuditError(`an SFTP handle of ${bytes.length} bytes`);
  }
  return String.fromCharCode(...bytes);
}

/**
 * Follows one SFTP session: feed it the client's bytes and the server's bytes
 * as they are relayed, and collect the events each feed returns.
 *
 * @example
 * ```ts
 * const audit = new SftpAudit();
 * userChannel.on("data", (chunk) => report(audit.fromClient(chunk)));
 * nodeChannel.on("data", (chunk) => report(audit.fromServer(chunk)));
 * nodeChannel.on("close", () => report(audit.finish()));
 * ```
 */
export class SftpAudit {
  #pending = new Map<number, Pending>();
  #files = new Map<string, OpenFile>();
  #events: SftpEvent[] = [];
  #client = new PacketSplitter((packet) => this.#request(packet));
  #server = new PacketSplitter((packet) => this.#reply(packet));

  /**
   * Reads bytes the client sent.
   *
   * @returns the events they complete (none: requests are audited on their reply)
   * @throws SftpAuditError when the stream breaks the protocol or the limits
   */
  fromClient(chunk: Uint8Array): SftpEvent[] {
    this.#client.feed(chunk);
    return this.#take();
  }

  /**
   * Reads bytes the server sent.
   *
   * @returns the events they complete
   * @throws SftpAuditError when the stream breaks the protocol or the limits
   */
  fromServer(chunk: Uint8Array): SftpEvent[] {
    this.#server.feed(chunk);
    return this.#take();
  }

  /**
   * Ends the session.
   *
   * @returns events for the files still open, marked `unclosed`
   */
  finish(): SftpEvent[] {
    for (const file of this.#files.values()) {
      const event = fileEvent(file, true);
      event.fields.unclosed = true;
      this.#events.push(event);
    }
    this.#files.clear();
    this.#pending.clear();
    return this.#take();
  }

  #take(): SftpEvent[] {
    if (this.#events.length === 0) return [];
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #track(id: number, pending: Pending): void {
    if (this.#pending.size >= MAX_PENDING_REQUESTS && !this.#pending.has(id)) {
      throw new SftpAuditError(`more than ${MAX_PENDING_REQUESTS} SFTP requests outstanding`);
    }
    this.#pending.set(id, pending);
  }

  #request(packet: PacketHead): void {
    const fields = new FieldReader(packet);
    switch (packet.type) {
      case FXP.OPEN: {
        const id = fields.uint32();
        const path = fields.text();
        const flags = fields.uint32();
        return this.#track(id, { kind: "open", path, write: (flags & WRITE_FLAGS) !== 0 });
      }
      case FXP.READ: {
        const id = fields.uint32();
        const handle = handleKey(fields.bytes());
        if (this.#files.has(handle)) this.#track(id, { kind: "read", handle });
        return;
      }
      case FXP.WRITE: {
        const id = fields.uint32();
        const handle = handleKey(fields.bytes());
        fields.skip(8); // offset
        const bytes = fields.length();
        if (this.#files.has(handle)) this.#track(id, { kind: "write", handle, bytes });
        return;
      }
      case FXP.CLOSE: {
        const id = fields.uint32();
        const handle = handleKey(fields.bytes());
        if (this.#files.has(handle)) this.#track(id, { kind: "close", handle });
        return;
      }
      case FXP.REMOVE:
      case FXP.MKDIR:
      case FXP.RMDIR: {
        const id = fields.uint32();
        const code = packet.type === FXP.REMOVE
          ? "sftp.remove"
          : packet.type === FXP.MKDIR
          ? "sftp.mkdir"
          : "sftp.rmdir";
        return this.#track(id, { kind: "path", code, path: fields.text() });
      }
      case FXP.RENAME: {
        const id = fields.uint32();
        const path = fields.text();
        return this.#track(id, { kind: "path", code: "sftp.rename", path, newPath: fields.text() });
      }
      case FXP.EXTENDED: {
        const id = fields.uint32();
        if (fields.text() !== "posix-rename@openssh.com") return;
        const path = fields.text();
        return this.#track(id, { kind: "path", code: "sftp.rename", path, newPath: fields.text() });
      }
    }
  }

  #reply(packet: PacketHead): void {
    if (packet.type !== FXP.STATUS && packet.type !== FXP.HANDLE && packet.type !== FXP.DATA) {
      return;
    }
    const fields = new FieldReader(packet);
    const id = fields.uint32();
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (packet.type === FXP.HANDLE) {
      if (pending.kind !== "open") return;
      const handle = handleKey(fields.bytes());
      if (this.#files.size >= MAX_OPEN_FILES && !this.#files.has(handle)) {
        throw new SftpAuditError(`more than ${MAX_OPEN_FILES} files open at once`);
      }
      this.#files.set(handle, {
        path: pending.path,
        write: pending.write,
        bytesRead: 0,
        bytesWritten: 0,
      });
      return;
    }
    if (packet.type === FXP.DATA) {
      const file = pending.kind === "read" ? this.#files.get(pending.handle) : undefined;
      if (file) file.bytesRead += fields.length();
      return;
    }
    const status = fields.uint32();
    const error = status === 0 ? undefined : STATUS_NAMES[status] ?? `status ${status}`;
    switch (pending.kind) {
      case "open":
        if (error) {
          this.#events.push({
            code: pending.write ? "sftp.write" : "sftp.read",
            success: false,
            fields: { path: pending.path, error },
          });
        }
        return;
      case "write": {
        const file = this.#files.get(pending.handle);
        if (file && !error) file.bytesWritten += pending.bytes;
        return;
      }
      case "close": {
        const file = this.#files.get(pending.handle);
        if (!file) return;
        this.#files.delete(pending.handle);
        this.#events.push(fileEvent(file, true));
        return;
      }
      case "path":
        this.#events.push({
          code: pending.code,
          success: !error,
          fields: {
            path: pending.path,
            ...(pending.newPath !== undefined ? { new_path: pending.newPath } : {}),
            ...(error ? { error } : {}),
          },
        });
        return;
    }
  }
}

/** `sftp.write` for a file opened to write, else `sftp.read`, with its byte counts. */
function fileEvent(file: OpenFile, success: boolean): SftpEvent {
  return file.write
    ? {
      code: "sftp.write",
      success,
      fields: { path: file.path, bytes_written: file.bytesWritten, bytes_read: file.bytesRead },
    }
    : { code: "sftp.read", success, fields: { path: file.path, bytes_read: file.bytesRead } };
}
