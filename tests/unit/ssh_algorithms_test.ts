import assert from "node:assert/strict";
import { isKind } from "../../lib/errors.ts";
import {
  GATEWAY_ALGORITHMS,
  NODE_ALGORITHMS,
  siteAlgorithms,
} from "../../lib/net/ssh_algorithms.ts";

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

Deno.test("a site's lists replace postern's, and a name ssh2 lacks is refused with the choices", () => {
  const kept = siteAlgorithms({ kex: [], ciphers: [], macs: [] });
  assert.deepEqual(kept.gateway, GATEWAY_ALGORITHMS);
  const site = siteAlgorithms({ kex: ["ecdh-sha2-nistp256"], ciphers: ["aes256-ctr"], macs: [] });
  const gateway = site.gateway as unknown as Record<string, string[]>;
  assert.deepEqual(gateway.kex, ["ecdh-sha2-nistp256"]);
  assert.deepEqual(gateway.cipher, ["aes256-ctr"]);
  assert.deepEqual(gateway.hmac, (GATEWAY_ALGORITHMS as unknown as Record<string, string[]>).hmac);
  assert.deepEqual((site.node as unknown as Record<string, string[]>).cipher, ["aes256-ctr"]);
  assert.throws(
    () => siteAlgorithms({ kex: [], ciphers: ["rot13"], macs: [] }),
    (e) =>
      isKind(e, "bad_request") &&
      /proxy\.ssh_algorithms\.ciphers: "rot13" is not one .*choose from .*aes128-gcm@openssh\.com/
        .test(e.message),
  );
});
