import assert from "node:assert/strict";
import { CertError, sourceAddressAllows } from "../../lib/sshcert/mod.ts";

Deno.test("sourceAddressAllows() matches addresses against CIDR lists like OpenSSH", () => {
  const cases: [list: string, address: string, allowed: boolean][] = [
    ["127.0.0.1", "127.0.0.1", true],
    ["127.0.0.1", "127.0.0.2", false],
    ["127.0.0.1/32", "127.0.0.1", true],
    ["10.0.0.0/8", "10.255.255.255", true],
    ["10.0.0.0/8", "11.0.0.0", false],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["0.0.0.0/0", "::1", false],
    ["192.168.1.128/25", "192.168.1.200", true],
    ["192.168.1.128/25", "192.168.1.100", false],
    ["10.0.0.0/8,192.168.0.0/16", "192.168.4.4", true],
    ["::1", "::1", true],
    ["::1/128", "::2", false],
    ["2001:db8::/32", "2001:db8:1234::5", true],
    ["2001:db8::/32", "2001:db9::1", false],
    ["2001:DB8:0:0:0:0:0:0/32", "2001:db8::1", true],
    ["::/0", "fe80::1", true],
    ["::ffff:0:0/96", "::ffff:10.1.2.3", false], // mapped client addresses compare as IPv4
    ["10.0.0.0/8", "::ffff:10.1.2.3", true],
    ["::ffff:10.1.2.3", "::ffff:10.1.2.3", false],
    ["1:2:3:4:5:6:7.8.9.10", "1:2:3:4:5:6:708:90a", true],
    ["127.0.0.1", "not an address", false],
    ["127.0.0.1", "", false],
  ];
  for (const [list, address, allowed] of cases) {
    assert.equal(sourceAddressAllows(list, address), allowed, `${address} in ${list}`);
  }
});

Deno.test("sourceAddressAllows() refuses invalid lists, as sshd refuses such certificates", () => {
  const lists = [
    "",
    "10.0.0.0/8,",
    "10.0.0.1/8", // host bits set
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/",
    "10.0.0.0/+8",
    "*",
    "!10.0.0.0/8",
    "10.0.0",
    "256.0.0.1",
    "010.0.0.1",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "1.2.3.4::",
    "localhost",
    "fe80::1%eth0",
    "1".repeat(50),
  ];
  for (const list of lists) {
    assert.throws(
      () => sourceAddressAllows(list, "10.0.0.1"),
      (e: unknown) =>
        e instanceof CertError && e.reason === "malformed" && /source-address/.test(e.message),
      JSON.stringify(list),
    );
  }
});
