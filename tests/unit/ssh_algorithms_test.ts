import assert from "node:assert/strict";
import { GATEWAY_ALGORITHMS, NODE_ALGORITHMS } from "../../lib/net/ssh_algorithms.ts";

/** Algorithms ssh-audit fails or warns about. */
const WEAK = [
  /nistp/,
  /sha1/,
  /md5/,
  /-cbc$/,
  /arcfour/,
  /^hmac-sha2-(256|512)$/,
  /^zlib$/,
  /group1[45]-/,
];

Deno.test("the gateway and the node client offer no algorithm ssh-audit objects to", () => {
  for (const [side, lists] of Object.entries({ GATEWAY_ALGORITHMS, NODE_ALGORITHMS })) {
    for (const [kind, names] of Object.entries(lists as unknown as Record<string, string[]>)) {
      for (const name of names) {
        assert.ok(!WEAK.some((weak) => weak.test(name)), `${side}.${kind} offers ${name}`);
      }
    }
  }
  const lists = GATEWAY_ALGORITHMS as unknown as Record<string, string[]>;
  assert.equal(lists.cipher[0], "aes128-gcm@openssh.com", "AES-GCM stays the first choice");
  assert.ok(lists.hmac.every((mac) => mac.includes("-etm@")), "encrypt-then-MAC only");
});
