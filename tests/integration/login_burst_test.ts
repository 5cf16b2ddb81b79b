/**
 * Credential checks sent all at once, from the outside: the account lockout
 * and the per-address failure limit hold however the requests are spread in
 * time (a reservation before each check, not a count after it).
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { auditEvents } from "../helpers/gateway.ts";

const BURST = 50;

Deno.test("50 concurrent wrong passwords get at most max_login_attempts checks, and a racing right one does not reset them", async () => {
  // The per-address limit is the other test's subject: out of the way here.
  await using cluster = await startCluster({
    extraConfig: "  max_failures_per_address: 1000",
  });
  const alice = await cluster.createUser("alice");
  const otp = await cluster.otp(alice);

  const wrong = Array.from({ length: BURST }, (_, i) =>
    cluster.api("POST", "/v1/webapi/sessions", {
      user: "alice",
      password: `wrong password ${i}`,
      second_factor_token: otp,
    }));
  // Sent last, once the wrong ones have reached the proxy.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const right = cluster.api("POST", "/v1/webapi/sessions", {
    user: "alice",
    password: alice.password,
    second_factor_token: otp,
  });
  const statuses = (await Promise.all([...wrong, right])).map((r) => r.status);
  assert.deepEqual(new Set(statuses), new Set([401]), JSON.stringify(statuses));

  const checked = (await auditEvents(cluster, "user.login")).filter((e) =>
    e.code === "user.login" && e.reason === "bad password"
  );
  assert.ok(checked.length <= 5, `${checked.length} wrong passwords were checked`);
  // Locked: even the right password with a fresh code is refused now.
  const later = await cluster.api("POST", "/v1/webapi/sessions", {
    user: "alice",
    password: alice.password,
    second_factor_token: await cluster.otp(alice),
  });
  assert.equal(later.status, 401);
  const locked = (await auditEvents(cluster, "user.login.locked")).filter((e) => e.locked_until);
  assert.equal(locked.length, 1, "the account was locked once");
});

Deno.test("50 concurrent failures from one address get at most max_failures_per_address checks", async () => {
  await using cluster = await startCluster({
    extraConfig: "  max_failures_per_address: 10",
  });
  const responses = await Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      cluster.api("POST", "/v1/webapi/sessions", {
        user: `nobody${i}`,
        password: "wrong password",
      })),
  );
  const statuses = responses.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 401).length, 10, JSON.stringify(statuses));
  assert.equal(statuses.filter((s) => s === 429).length, BURST - 10, JSON.stringify(statuses));
  const checked = (await auditEvents(cluster, "user.login")).filter((e) => e.success === false);
  assert.equal(checked.length, 10);
});
