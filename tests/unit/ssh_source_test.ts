import assert from "node:assert/strict";
import { sourceOf } from "../../lib/proxy/ssh/server.ts";

Deno.test("sourceOf() counts IPv4 by address and IPv6 by /64", () => {
  const cases: [string, string][] = [
    ["192.0.2.7", "192.0.2.7"],
    ["::ffff:192.0.2.7", "192.0.2.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::9", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:ffff::1", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
  ];
  for (const [ip, source] of cases) assert.equal(sourceOf(ip), source, ip);
});
