import assert from "node:assert/strict";
import { CertError, decodeBase64, SshReader, SshWriter } from "../../lib/sshcert/mod.ts";

const hex = (text: string) => Uint8Array.fromHex(text.replaceAll(" ", ""));
const toHex = (bytes: Uint8Array) => bytes.toHex();

function assertMalformed(fn: () => unknown, pattern: RegExp, label = ""): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CertError, `${label}: expected CertError, got ${error}`);
    assert.equal(error.reason, "malformed", label);
    assert.equal(error.kind, "bad_request", label);
    assert.match(error.message, pattern, label);
    return true;
  });
}

Deno.test("SshWriter encodes values as RFC 4251 §5 specifies", () => {
  const cases: { name: string; write: (w: SshWriter) => void; expected: string }[] = [
    { name: "u8", write: (w) => w.u8(0xab), expected: "ab" },
    { name: "u32", write: (w) => w.u32(0x29b7f4aa), expected: "29b7f4aa" },
    { name: "u64", write: (w) => w.u64(0xffff_ffff_ffff_fffen), expected: "fffffffffffffffe" },
    { name: "string", write: (w) => w.string("testing"), expected: "00000007 74657374696e67" },
    { name: "utf-8 string", write: (w) => w.string("é€"), expected: "00000005 c3a9e282ac" },
    { name: "empty string", write: (w) => w.string(""), expected: "00000000" },
    { name: "bytes", write: (w) => w.string(hex("0102")), expected: "00000002 0102" },
    // The RFC 4251 mpint examples (non-negative ones).
    { name: "mpint 0", write: (w) => w.mpint(hex("")), expected: "00000000" },
    {
      name: "mpint 9a378f9b2e332a7",
      write: (w) => w.mpint(hex("09a378f9b2e332a7")),
      expected: "00000008 09a378f9b2e332a7",
    },
    { name: "mpint 80", write: (w) => w.mpint(hex("80")), expected: "00000002 0080" },
    { name: "mpint leading zeros", write: (w) => w.mpint(hex("000001")), expected: "00000001 01" },
    {
      name: "nested",
      write: (w) => w.nested((n) => n.string("a").string("bc")),
      expected: "0000000b 0000000161 000000026263",
    },
  ];
  for (const { name, write, expected } of cases) {
    const writer = new SshWriter(2); // tiny, so every case also exercises growth
    write(writer);
    assert.equal(toHex(writer.bytes()), expected.replaceAll(" ", ""), name);
  }
});

Deno.test("SshWriter refuses u64 values out of range", () => {
  assertMalformed(() => new SshWriter().u64(-1n), /out of range/);
  assertMalformed(() => new SshWriter().u64(1n << 64n), /out of range/);
});

Deno.test("SshReader reads what SshWriter wrote", () => {
  const blob = new SshWriter(8)
    .u8(7).u32(0xdeadbeef).u64(0xffff_ffff_ffff_ffffn).string("héllo").string(hex("00ff"))
    .mpint(hex("80")).bytes();
  const reader = new SshReader(blob, "test data");
  assert.equal(reader.u8(), 7);
  assert.equal(reader.u32(), 0xdeadbeef);
  assert.equal(reader.u64(), 0xffff_ffff_ffff_ffffn);
  assert.equal(reader.cstring(), "héllo");
  assert.deepEqual(reader.string(), hex("00ff"));
  assert.deepEqual(reader.mpint(), hex("80"));
  assert.equal(reader.remaining, 0);
  reader.end();
});

Deno.test("SshReader throws a malformed CertError for every bad input", () => {
  const cases: { name: string; bytes: string; read: (r: SshReader) => unknown; error: RegExp }[] = [
    { name: "empty u8", bytes: "", read: (r) => r.u8(), error: /truncated at byte 0/ },
    { name: "short u32", bytes: "000000", read: (r) => r.u32(), error: /truncated/ },
    { name: "short u64", bytes: "00000000000000", read: (r) => r.u64(), error: /truncated/ },
    {
      name: "string past end",
      bytes: "00000005 6162",
      read: (r) => r.string(),
      error: /truncated/,
    },
    {
      name: "inflated length",
      bytes: "ffffffff 6162",
      read: (r) => r.string(),
      error: /need 4294967295 more/,
    },
    { name: "NUL in text", bytes: "00000003 610062", read: (r) => r.cstring(), error: /NUL/ },
    { name: "invalid UTF-8", bytes: "00000002 c328", read: (r) => r.cstring(), error: /UTF-8/ },
    { name: "negative mpint", bytes: "00000001 80", read: (r) => r.mpint(), error: /negative/ },
    { name: "trailing bytes", bytes: "00", read: (r) => r.end(), error: /1 unexpected trailing/ },
  ];
  for (const { name, bytes, read, error } of cases) {
    assertMalformed(() => read(new SshReader(hex(bytes), "test data")), error, name);
    assertMalformed(() => read(new SshReader(hex(bytes), "test data")), /^Cannot parse test data/);
  }
});

Deno.test("SshReader returns views, not copies", () => {
  const blob = hex("00000002 abcd");
  const view = new SshReader(blob, "x").string();
  blob[4] = 0x11;
  assert.equal(view[0], 0x11);
});

Deno.test("decodeBase64() is strict", () => {
  assert.deepEqual(decodeBase64("AAEC", "x"), hex("000102"));
  assert.deepEqual(decodeBase64("AA\nEC", "x"), hex("000102"));
  for (const bad of ["AAE", "AA=C", "A!EC", "AAB="]) {
    assertMalformed(() => decodeBase64(bad, "key line"), /Cannot parse key line: invalid base64/);
  }
});
