import assert from "node:assert/strict";
import type { Connection } from "ssh2";
import { ssh2InternalsProblems, ssh2VersionMatches } from "../../lib/net/ssh2_internals.ts";
import { sendAuthBanner } from "../../lib/proxy/ssh/messages.ts";

Deno.test("the pinned ssh2 has every internal the hooks use", () => {
  assert.equal(ssh2VersionMatches, true, "deno.json pins the ssh2 the hooks were checked against");
  assert.deepEqual(ssh2InternalsProblems(), []);
});

Deno.test("a login banner without ssh2's internals is skipped, never thrown", () => {
  const bare = {} as unknown as Connection;
  assert.equal(sendAuthBanner(bare, "postern: refused"), false);
  const broken = { _protocol: { _packetRW: { write: {} } } } as unknown as Connection;
  assert.equal(sendAuthBanner(broken, "postern: refused"), false);
});
