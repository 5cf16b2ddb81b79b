import assert from "node:assert/strict";
import {
  MAX_OPEN_FILES,
  MAX_PACKET_BYTES,
  SftpAudit,
  SftpAuditError,
  type SftpEvent,
} from "../../lib/proxy/sftp_audit.ts";

/** SSH wire encoding of SFTP packets, for building test streams. */
const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const u64 = (n: number) => new Uint8Array([0, 0, 0, 0, ...u32(n)]);
const str = (s: string | Uint8Array) => {
  const bytes = typeof s === "string" ? new TextEncoder().encode(s) : s;
  return new Uint8Array([...u32(bytes.length), ...bytes]);
};
function packet(type: number, ...parts: Uint8Array[]): Uint8Array {
  const body = new Uint8Array([type, ...parts.flatMap((p) => [...p])]);
  return new Uint8Array([...u32(body.length), ...body]);
}
const open = (id: number, path: string, flags: number) =>
  packet(3, u32(id), str(path), u32(flags), u32(0));
const handleReply = (id: number, handle: string) => packet(102, u32(id), str(handle));
const status = (id: number, code: number) => packet(101, u32(id), u32(code), str(""), str(""));
const read = (id: number, handle: string, offset: number, len: number) =>
  packet(5, u32(id), str(handle), u64(offset), u32(len));
const data = (id: number, bytes: number) => packet(103, u32(id), str(new Uint8Array(bytes)));
const write = (id: number, handle: string, offset: number, bytes: number) =>
  packet(6, u32(id), str(handle), u64(offset), str(new Uint8Array(bytes)));
const close = (id: number, handle: string) => packet(4, u32(id), str(handle));

/** Feeds a conversation in chunks of `size` bytes, each side in its turn. */
function run(
  turns: ["client" | "server", Uint8Array][],
  size: number,
  audit = new SftpAudit(),
): SftpEvent[] {
  const events: SftpEvent[] = [];
  for (const [side, bytes] of turns) {
    for (let at = 0; at < bytes.length; at += size) {
      const chunk = bytes.subarray(at, at + size);
      events.push(...(side === "client" ? audit.fromClient(chunk) : audit.fromServer(chunk)));
    }
  }
  return [...events, ...audit.finish()];
}

const UPLOAD_AND_DOWNLOAD: ["client" | "server", Uint8Array][] = [
  ["client", packet(1, u32(3))], // INIT
  ["server", packet(2, u32(3))], // VERSION
  ["client", open(1, "/tmp/up.bin", 0x02 | 0x08 | 0x10)],
  ["server", handleReply(1, "h1")],
  ["client", write(2, "h1", 0, 40_000)],
  ["client", write(3, "h1", 40_000, 1_000)],
  ["server", status(2, 0)],
  ["server", status(3, 0)],
  ["client", close(4, "h1")],
  ["server", status(4, 0)],
  ["client", open(5, "/etc/hostname", 0x01)],
  ["server", handleReply(5, "h2")],
  ["client", read(6, "h2", 0, 32_768)],
  ["server", data(6, 20)],
  ["client", read(7, "h2", 20, 32_768)],
  ["server", status(7, 1)], // EOF
  ["client", close(8, "h2")],
  ["server", status(8, 0)],
  ["client", packet(18, u32(9), str("/tmp/a"), str("/tmp/b"))],
  ["server", status(9, 0)],
  ["client", packet(200, u32(10), str("posix-rename@openssh.com"), str("/tmp/b"), str("/tmp/c"))],
  ["server", status(10, 0)],
  ["client", packet(13, u32(11), str("/tmp/c"))],
  ["server", status(11, 2)],
  ["client", packet(14, u32(12), str("/tmp/d"), u32(0))],
  ["server", status(12, 0)],
  ["client", packet(15, u32(13), str("/tmp/d"))],
  ["server", status(13, 0)],
  ["client", open(14, "/root/secret", 0x01)],
  ["server", status(14, 3)],
  ["client", open(15, "/tmp/left-open", 0x01)],
  ["server", handleReply(15, "h3")],
];

const EXPECTED: SftpEvent[] = [
  {
    code: "sftp.write",
    success: true,
    fields: { path: "/tmp/up.bin", bytes_written: 41_000, bytes_read: 0 },
  },
  { code: "sftp.read", success: true, fields: { path: "/etc/hostname", bytes_read: 20 } },
  { code: "sftp.rename", success: true, fields: { path: "/tmp/a", new_path: "/tmp/b" } },
  { code: "sftp.rename", success: true, fields: { path: "/tmp/b", new_path: "/tmp/c" } },
  { code: "sftp.remove", success: false, fields: { path: "/tmp/c", error: "no such file" } },
  { code: "sftp.mkdir", success: true, fields: { path: "/tmp/d" } },
  { code: "sftp.rmdir", success: true, fields: { path: "/tmp/d" } },
  {
    code: "sftp.read",
    success: false,
    fields: { path: "/root/secret", error: "permission denied" },
  },
  {
    code: "sftp.read",
    success: true,
    fields: { path: "/tmp/left-open", bytes_read: 0, unclosed: true },
  },
];

Deno.test("SftpAudit reports file operations whatever the chunking", () => {
  for (const size of [1, 3, 7, 512, 100_000]) {
    assert.deepEqual(run(UPLOAD_AND_DOWNLOAD, size), EXPECTED, `chunks of ${size}`);
  }
});

Deno.test("SftpAudit refuses streams it cannot audit", () => {
  const cases: [string, ["client" | "server", Uint8Array][]][] = [
    ["a packet over the limit", [["client", u32(MAX_PACKET_BYTES + 1)]]],
    ["a packet too short for its type", [["client", packet(3, u32(1))]]],
    ["a string longer than its packet", [["client", packet(3, u32(1), u32(1_000), u32(0))]]],
    [
      "a handle over 256 bytes",
      [["client", open(1, "/f", 1)], ["server", handleReply(1, "h".repeat(257))]],
    ],
    [
      "a WRITE whose data runs past its packet",
      [
        ["client", open(1, "/f", 2)],
        ["server", handleReply(1, "h")],
        ["client", packet(6, u32(2), str("h"), u64(0), u32(100), new Uint8Array(10))],
      ],
    ],
  ];
  for (const [name, turns] of cases) {
    assert.throws(() => run(turns, 5), SftpAuditError, name);
  }
});

Deno.test("SftpAudit caps the files it follows", () => {
  const audit = new SftpAudit();
  for (let i = 0; i < MAX_OPEN_FILES; i++) {
    audit.fromClient(open(i, `/f${i}`, 1));
    audit.fromServer(handleReply(i, `h${i}`));
  }
  audit.fromClient(open(MAX_OPEN_FILES, "/one-more", 1));
  assert.throws(() => audit.fromServer(handleReply(MAX_OPEN_FILES, "extra")), SftpAuditError);
});

Deno.test("SftpAudit throws nothing but SftpAuditError on random packets", () => {
  const types = [1, 2, 3, 4, 5, 6, 13, 14, 15, 18, 101, 102, 103, 200];
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    const audit = new SftpAudit();
    try {
      for (let i = 0; i < 20; i++) {
        const body = new Uint8Array(random(64));
        for (let j = 0; j < body.length; j++) body[j] = random(4) === 0 ? random(256) : 0;
        const bytes = packet(types[random(types.length)], u32(random(4)), body);
        if (random(2)) audit.fromClient(bytes);
        else audit.fromServer(bytes);
      }
      audit.finish();
    } catch (error) {
      assert.ok(error instanceof SftpAuditError, String(error));
    }
  }
});
