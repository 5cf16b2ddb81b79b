/**
 * Password spraying from one address is slowed: after
 * `proxy.max_failures_per_address` failed credential checks (whatever the
 * user names), that address gets 429 with Retry-After on every credential
 * endpoint until the window ends, and the moment is audited.
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { waitForAudit } from "../helpers/gateway.ts";

Deno.test("an address that fails too many credential checks gets 429 with Retry-After", async () => {
  await using cluster = await startCluster({
    extraConfig: "  max_failures_per_address: 3\n  failure_window: 5m\n",
  });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const statuses: number[] = [];
  for (const user of ["bob", "carol", "dave"]) {
    const failed = await cluster.api("POST", "/v1/webapi/sessions", {
      user,
      password: "a guessed password",
      second_factor_token: "123456",
    });
    statuses.push(failed.status);
  }
  assert.deepEqual(statuses, [401, 401, 401]);
  const limited = await cluster.api("POST", "/v1/webapi/sessions", {
    user: alice.name,
    password: alice.password,
    second_factor_token: await cluster.otp(alice),
  });
  assert.equal(limited.status, 429, JSON.stringify(limited.body));
  assert.equal(limited.body.error.kind, "rate_limited");
  const retryAfter = Number(limited.headers.get("retry-after"));
  assert.ok(retryAfter > 0 && retryAfter <= 300, `Retry-After ${retryAfter}`);
  const cert = await cluster.api("POST", "/v1/webapi/ssh/certs", {
    user: alice.name,
    password: alice.password,
    otp_token: "000000",
    pub_key: "ssh-ed25519 AAAA",
  });
  assert.equal(cert.status, 429, "every credential endpoint shares the limit");
  await waitForAudit(cluster, "login.rate_limited", (e) => e.remote_addr === "127.0.0.1");
});
