/** Address parsing of the FFI socket (lib/client/fd_socket.ts). */

import assert from "node:assert/strict";
import { parseIpv4, parseIpv6 } from "../../lib/client/fd_socket.ts";

Deno.test("IPv4 literals parse to four bytes; anything else does not", () => {
  assert.deepEqual(parseIpv4("127.0.0.1"), new Uint8Array([127, 0, 0, 1]));
  for (const bad of ["256.0.0.1", "1.2.3", "a.b.c.d", "1.2.3.4.5", "::1"]) {
    assert.equal(parseIpv4(bad), undefined, bad);
  }
});

Deno.test("IPv6 literals parse to sixteen bytes, :: and embedded IPv4 included", () => {
  const hex = (bytes?: Uint8Array) => bytes && Array.from(bytes, (b) => b.toString(16)).join(",");
  assert.equal(hex(parseIpv6("::1")), "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1");
  assert.equal(hex(parseIpv6("2001:db8::2:1")), "20,1,d,b8,0,0,0,0,0,0,0,0,0,2,0,1");
  assert.equal(hex(parseIpv6("::ffff:10.0.0.1")), "0,0,0,0,0,0,0,0,0,0,ff,ff,a,0,0,1");
  assert.equal(hex(parseIpv6("fe80::1%eth0")), "fe,80,0,0,0,0,0,0,0,0,0,0,0,0,0,1");
  for (const bad of ["1::2::3", "1:2:3:4:5:6:7", "12345::", "g::1", "1:2:3:4:5:6:7:8::"]) {
    assert.equal(parseIpv6(bad), undefined, bad);
  }
});
