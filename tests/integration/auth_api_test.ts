/**
 * The login API from the outside, against a real `postern start`: web and CLI
 * logins, every error path (generic failures, lockout, TOTP replay, bad
 * bodies), certificate TTL and principals, CSRF, logout, node visibility,
 * invites, `users reset`, and what the audit log holds (and must never hold).
 *
 * One cluster is shared by all steps; each step uses its own users, and no
 * user needs more TOTP codes than one 30 s step offers, so nothing waits.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestCluster, type TestUser } from "../helpers/cluster.ts";
import { startCluster } from "../helpers/cluster.ts";
import { newKeyPair, sshKeygen } from "../helpers/sshd.ts";
import { waitForAudit } from "../helpers/gateway.ts";
import { certAuthHeaders } from "../../lib/client/proxy_client.ts";
import { totpCode, totpStep } from "../../lib/auth/totp.ts";
import { fingerprint, parseCertificateLine, parsePublicKeyLine } from "../../lib/sshcert/mod.ts";

const PASSWORD = "a long enough passphrase 42";
const GENERIC =
  "Invalid user name, password or second factor code; repeated failures lock the account for a while.";
const HOUR = 3_600_000;
const COOKIE = "__Host-postern_session";

const EXTRA_CONFIG = `
roles:
  - name: short
    logins: [root]
    node_labels: { "*": "*" }
    max_session_ttl: 1h
  - name: prodonly
    logins: [root]
    node_labels: { env: prod }
`;

/** Everything secret the test hands out or receives: none may reach a log. */
interface Secrets {
  values: Set<string>;
  add(...values: (string | undefined)[]): void;
}

interface SignedUp extends TestUser {
  token: string;
  cookie: string;
  csrf: string;
}

/** `users add` + invite completion, keeping the invite token and the session cookie. */
async function signUp(
  cluster: TestCluster,
  secrets: Secrets,
  name: string,
  options: { roles?: string[]; logins?: string[] } = {},
): Promise<SignedUp> {
  const token = await addUser(cluster, name, options);
  secrets.add(token);
  const enrollment = await cluster.api("POST", `/v1/webapi/invites/${token}/totp`);
  assert.equal(enrollment.status, 200, JSON.stringify(enrollment.body));
  const user = { name, password: PASSWORD, totpSecret: enrollment.body.secret as string };
  secrets.add(user.totpSecret);
  const done = await cluster.api("POST", `/v1/webapi/invites/${token}`, {
    password: PASSWORD,
    second_factor_token: await cluster.otp(user),
  });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const cookie = cookieOf(done.headers);
  secrets.add(cookie.split("=")[1], done.body.csrf_token);
  return { ...user, token, cookie, csrf: done.body.csrf_token };
}

/** `postern users add`; returns the invite token it printed. */
async function addUser(
  cluster: TestCluster,
  name: string,
  options: { roles?: string[]; logins?: string[]; ttl?: string } = {},
): Promise<string> {
  const result = await cluster.admin(
    "users",
    "add",
    name,
    "--roles",
    (options.roles ?? ["access"]).join(","),
    "--logins",
    (options.logins ?? ["root"]).join(","),
    ...(options.ttl ? ["--ttl", options.ttl] : []),
  );
  assert.equal(result.code, 0, result.stderr);
  const token = result.stdout.match(/\/web\/invite\/([A-Za-z0-9_-]+)/)?.[1];
  assert.ok(token, `users add printed no invite: ${result.stdout}`);
  return token;
}

function cookieOf(headers: Headers): string {
  const setCookie = headers.get("set-cookie");
  assert.ok(setCookie, "no Set-Cookie header");
  return setCookie.split(";")[0];
}

/** A 6-digit code that is none of the codes valid right now. */
function wrongCode(secret: string): string {
  const step = totpStep(Date.now());
  const valid = [step - 1, step, step + 1].map((s) => totpCode(secret, s * 30_000));
  for (let n = 0;; n++) {
    const code = String(n).padStart(6, "0");
    if (!valid.includes(code)) return code;
  }
}

/** The code of the current step, without consuming anything on the server. */
function currentCode(user: TestUser): string {
  return totpCode(user.totpSecret, Date.now());
}

Deno.test("the login API answers every path as a user expects", async (t) => {
  await using cluster = await startCluster({ extraConfig: EXTRA_CONFIG });
  const values = new Set<string>();
  const secrets: Secrets = {
    values,
    add: (...items) => items.forEach((v) => v && values.add(v)),
  };
  secrets.add(PASSWORD);
  const webLogin = (user: { name: string; password: string }, code: string) =>
    cluster.api("POST", "/v1/webapi/sessions", {
      user: user.name,
      password: user.password,
      second_factor_token: code,
    });
  const certLogin = async (user: TestUser, extra: Record<string, unknown> = {}) => {
    const pair = await newKeyPair(cluster.dir, `${user.name}-${crypto.randomUUID()}`);
    const response = await cluster.api("POST", "/v1/webapi/ssh/certs", {
      user: user.name,
      password: user.password,
      otp_token: await cluster.otp(user),
      pub_key: pair.pub,
      ...extra,
    });
    return { response, pair };
  };

  let bob: SignedUp;

  await t.step("a web login sets a strict session cookie and returns a CSRF token", async () => {
    bob = await signUp(cluster, secrets, "bob");
    const response = await webLogin(bob, await cluster.otp(bob));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const setCookie = response.headers.get("set-cookie")!;
    const [pair, ...attributes] = setCookie.split(";").map((s) => s.trim());
    const [name, value] = pair.split("=");
    assert.equal(name, COOKIE);
    assert.match(value, /^[A-Za-z0-9_-]{43}$/, "a 256-bit random id");
    const lower = attributes.map((a) => a.toLowerCase());
    for (const attribute of ["httponly", "secure", "samesite=strict", "path=/"]) {
      assert.ok(lower.includes(attribute), `Set-Cookie lacks ${attribute}: ${setCookie}`);
    }
    assert.ok(!lower.some((a) => a.startsWith("domain=")), "__Host- cookies have no Domain");
    assert.equal(typeof response.body.csrf_token, "string");
    assert.ok(response.body.csrf_token.length >= 32);
    assert.equal(response.body.user, "bob");
    assert.deepEqual(response.body.logins, ["root"]);
    secrets.add(value, response.body.csrf_token);
    bob.cookie = pair;
    bob.csrf = response.body.csrf_token;

    const current = await cluster.api("GET", "/v1/webapi/sessions/current", undefined, {
      cookie: bob.cookie,
    });
    assert.equal(current.status, 200);
    assert.equal(current.body.user, "bob");
  });

  await t.step(
    "wrong password, wrong code, unknown and unfinished users get one message",
    async () => {
      const pending = await addUser(cluster, "pending");
      secrets.add(pending);
      const attempts = [
        { user: "bob", password: "not the password at all", code: currentCode(bob), cert: true },
        { user: "bob", password: PASSWORD, code: wrongCode(bob.totpSecret), cert: false },
        { user: "bob", password: PASSWORD, code: "", cert: false },
        { user: "nobody", password: PASSWORD, code: "123456", cert: true },
        { user: "pending", password: PASSWORD, code: "123456", cert: true },
      ];
      secrets.add("not the password at all");
      for (const attempt of attempts) {
        const response = await cluster.api("POST", "/v1/webapi/sessions", {
          user: attempt.user,
          password: attempt.password,
          second_factor_token: attempt.code,
        });
        assert.equal(response.status, 401, `${JSON.stringify(attempt)}: ${response.status}`);
        assert.equal(response.body.error.kind, "unauthenticated");
        assert.equal(response.body.error.message, GENERIC);
        assert.equal(response.headers.get("set-cookie"), null);
        // Four failures for bob in all: one short of the lockout.
        if (!attempt.cert) continue;
        const cert = await cluster.api("POST", "/v1/webapi/ssh/certs", {
          user: attempt.user,
          password: attempt.password,
          otp_token: attempt.code,
          pub_key: (await newKeyPair(cluster.dir, `k-${crypto.randomUUID()}`)).pub,
        });
        assert.equal(cert.status, 401);
        assert.equal(cert.body.error.message, GENERIC);
      }
      // A success resets the count: bob is not locked by the next failure.
      const success = await webLogin(bob, await cluster.otp(bob));
      assert.equal(success.status, 200);
      secrets.add(cookieOf(success.headers).split("=")[1], success.body.csrf_token);
      const afterReset = await webLogin({ name: "bob", password: "wrong again once" }, "000000");
      assert.equal(afterReset.status, 401);
    },
  );

  await t.step(
    "five failures lock the account; locked, unknown and wrong answers are identical",
    async () => {
      const carol = await signUp(cluster, secrets, "carol");
      const before = Date.now();
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) {
        const failed = await webLogin({ name: "carol", password: `wrong password ${i}` }, "000000");
        answers.push(`${failed.status} ${JSON.stringify(failed.body)}`);
      }
      const unknown = await webLogin({ name: "nobody-here", password: "wrong password" }, "000000");
      answers.push(`${unknown.status} ${JSON.stringify(unknown.body)}`);
      assert.equal(new Set(answers).size, 1, answers.join("\n"));
      assert.match(answers[0], /^401 /);

      const correct = await webLogin(carol, await cluster.otp(carol));
      assert.equal(correct.status, 401, "a correct login is refused while locked");
      assert.equal(correct.body.error.message, GENERIC);
      const cert = await certLogin(carol);
      assert.equal(cert.response.status, 401);
      const users = await cluster.admin("users", "ls", "--format", "json");
      const listed = JSON.parse(users.stdout).find((u: { name: string }) => u.name === "carol");
      assert.equal(listed.status, "locked");
      const until = Date.parse(listed.lockedUntil);
      assert.ok(
        until >= before + 20 * 60_000 - 5_000 && until <= Date.now() + 20 * 60_000 + 5_000,
        `locked until ${listed.lockedUntil}`,
      );
      const locked = await waitForAudit(cluster, "user.login.locked", (e) => e.user === "carol");
      assert.equal(locked.success, false);
    },
  );

  await t.step("a TOTP code works once", async () => {
    const dave = await signUp(cluster, secrets, "dave");
    const code = await cluster.otp(dave);
    const first = await webLogin(dave, code);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    secrets.add(cookieOf(first.headers).split("=")[1], first.body.csrf_token);
    const replay = await webLogin(dave, code);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error.message, GENERIC);
    assert.equal(replay.headers.get("set-cookie"), null);

    // Two logins racing with one fresh code: exactly one gets in.
    const fresh = await cluster.otp(dave);
    const raced = await Promise.all([webLogin(dave, fresh), webLogin(dave, fresh)]);
    assert.deepEqual(raced.map((r) => r.status).sort(), [200, 401]);
    for (const r of raced.filter((r) => r.status === 200)) {
      secrets.add(cookieOf(r.headers).split("=")[1], r.body.csrf_token);
    }
  });

  await t.step("bad bodies are refused with 413 or 400 naming the problem", async () => {
    const big = JSON.stringify({ user: "bob", password: "x".repeat(70 * 1024) });
    const tooBig = await cluster.api("POST", "/v1/webapi/sessions", big);
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error.kind, "too_large");

    // Without a Content-Length (chunked), the limit holds while reading.
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const chunked = await fetch(`${cluster.postern.url}/v1/webapi/ssh/certs`, {
      method: "POST",
      client: cluster.http,
      headers: { "content-type": "application/json" },
      body: stream,
    });
    assert.equal(chunked.status, 413);
    await chunked.body?.cancel();

    const malformed = await cluster.api("POST", "/v1/webapi/sessions", '{"user": "bob",');
    assert.equal(malformed.status, 400);
    assert.match(malformed.body.error.message, /JSON/);
    const notObject = await cluster.api("POST", "/v1/webapi/ssh/certs", "[1, 2]");
    assert.equal(notObject.status, 400);

    const missing = await cluster.api("POST", "/v1/webapi/sessions", { user: "bob" });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /"password"/);
    const missingKey = await cluster.api("POST", "/v1/webapi/ssh/certs", {
      user: "bob",
      password: PASSWORD,
      otp_token: "123456",
    });
    assert.equal(missingKey.status, 400);
    assert.match(missingKey.body.error.message, /"pub_key"/);
    const wrongType = await cluster.api("POST", "/v1/webapi/sessions", { user: 7, password: "x" });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.body.error.message, /"user"/);

    const realKey = (await newKeyPair(cluster.dir, "real-key")).pub.split(" ")[1];
    const badKeys: [string, RegExp][] = [
      ["notakey", /expected "<type> <base64>/],
      ["ssh-ed25519 !!!notbase64!!!", /base64/i],
      [`ssh-ed25519 ${realKey.slice(0, 24)}`, /./],
      [`ssh-rsa ${realKey}`, /says "ssh-rsa" but holds ssh-ed25519/],
    ];
    for (const [pubKey, why] of badKeys) {
      const response = await cluster.api("POST", "/v1/webapi/ssh/certs", {
        user: "bob",
        password: PASSWORD,
        otp_token: "123456",
        pub_key: pubKey,
      });
      assert.equal(response.status, 400, pubKey);
      assert.match(response.body.error.message, /"pub_key" is not a valid SSH public key: /);
      assert.match(response.body.error.message, why);
    }

    const badTtl = await cluster.api("POST", "/v1/webapi/ssh/certs", {
      user: "bob",
      password: PASSWORD,
      otp_token: "123456",
      pub_key: (await newKeyPair(cluster.dir, "ttl-key")).pub,
      ttl: "soon",
    });
    assert.equal(badTtl.status, 400);
    assert.match(badTtl.body.error.message, /"ttl"/);
  });

  let alice: SignedUp;
  let aliceKeyPub = "";

  await t.step("a certificate holds the allowed logins and never outlives the role", async () => {
    alice = await signUp(cluster, secrets, "alice", { logins: ["root", "alice"] });
    const before = Date.now();
    const { response, pair } = await certLogin(alice, { ttl: "100h" });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    aliceKeyPub = pair.pub;
    const validBefore = Date.parse(response.body.valid_before);
    assert.ok(validBefore <= Date.now() + 12 * HOUR + 1000, `capped at 12h: ${validBefore}`);
    assert.ok(validBefore >= before + 12 * HOUR - 2000, `not shorter than 12h: ${validBefore}`);
    assert.deepEqual(response.body.logins, ["alice", "root"]);
    const { certificate } = parseCertificateLine(response.body.cert);
    assert.equal(Number(certificate.validBefore) * 1000, Math.floor(validBefore / 1000) * 1000);

    const certPath = `${pair.path}-cert.pub`;
    await Deno.writeTextFile(certPath, response.body.cert + "\n");
    const shown = (await sshKeygen(["-L", "-f", certPath])).stdout;
    assert.match(shown, /Type: ssh-ed25519-cert-v01@openssh.com user certificate/);
    const principals = shown.split("Principals:")[1].split(/\n\s*Critical/)[0].trim().split(/\s+/);
    assert.deepEqual(principals.sort(), ["alice", "root"]);
    assert.ok(response.body.host_ca.some((l: string) => l.startsWith("@cert-authority *.postern")));

    const shorter = await certLogin(alice, { ttl: "30m" });
    assert.equal(shorter.response.status, 200);
    const shortBefore = Date.parse(shorter.response.body.valid_before);
    assert.ok(Math.abs(shortBefore - (Date.now() + 30 * 60_000)) < 5_000, "a shorter TTL is kept");

    const frank = await signUp(cluster, secrets, "frank", { roles: ["short"] });
    const capped = await certLogin(frank, { ttl: "100h" });
    assert.equal(capped.response.status, 200, JSON.stringify(capped.response.body));
    const cappedBefore = Date.parse(capped.response.body.valid_before);
    assert.ok(cappedBefore <= Date.now() + HOUR + 1000, `capped at the role's 1h`);
    assert.ok(cappedBefore >= Date.now() + HOUR - 10_000, "and not shorter");
  });

  await t.step("state-changing requests need the CSRF token; logout ends the session", async () => {
    const cookie = { cookie: bob.cookie };
    const none = await cluster.api("DELETE", "/v1/webapi/sessions", undefined, cookie);
    assert.equal(none.status, 403);
    assert.equal(none.body.error.kind, "access_denied");
    assert.match(none.body.error.message, /CSRF/);
    const wrong = await cluster.api("DELETE", "/v1/webapi/sessions", undefined, {
      ...cookie,
      "x-csrf-token": bob.csrf.slice(0, -2) + "xx",
    });
    assert.equal(wrong.status, 403);
    const otherUsers = await cluster.api("DELETE", "/v1/webapi/sessions", undefined, {
      ...cookie,
      "x-csrf-token": alice.csrf,
    });
    assert.equal(otherUsers.status, 403, "another session's token does not fit");
    const still = await cluster.api("GET", "/v1/webapi/sessions/current", undefined, cookie);
    assert.equal(still.status, 200, "the refused requests changed nothing");

    const logout = await cluster.api("DELETE", "/v1/webapi/sessions", undefined, {
      ...cookie,
      "x-csrf-token": bob.csrf,
    });
    assert.equal(logout.status, 200);
    assert.match(logout.headers.get("set-cookie") ?? "", /Max-Age=0/);
    const after = await cluster.api("GET", "/v1/webapi/sessions/current", undefined, cookie);
    assert.equal(after.status, 401, "the old cookie is dead on the server");
    const nodes = await cluster.api("GET", "/v1/webapi/sites/postern/nodes", undefined, cookie);
    assert.equal(nodes.status, 401);
    const noCookie = await cluster.api("GET", "/v1/webapi/sites/postern/nodes");
    assert.equal(noCookie.status, 401);
  });

  await t.step("the node list shows only nodes the user's roles reach", async () => {
    const cookie = { cookie: alice.cookie };
    const mine = await cluster.api("GET", "/v1/webapi/sites/postern/nodes", undefined, cookie);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.items.map((n: { name: string }) => n.name), ["saturn"]);
    assert.deepEqual(mine.body.items[0].labels, { env: "test" });
    assert.deepEqual(mine.body.items[0].logins, ["alice", "root"]);

    const erin = await signUp(cluster, secrets, "erin", { roles: ["prodonly"] });
    const theirs = await cluster.api("GET", "/v1/webapi/sites/postern/nodes", undefined, {
      cookie: erin.cookie,
    });
    assert.equal(theirs.status, 200);
    assert.deepEqual(theirs.body.items, [], "env=prod role sees no env=test node");

    const wrongCluster = await cluster.api(
      "GET",
      "/v1/webapi/sites/other/nodes",
      undefined,
      cookie,
    );
    assert.equal(wrongCluster.status, 404);
  });

  await t.step("an invite works once, expires, and needs a 12-character password", async () => {
    const token = await addUser(cluster, "hank");
    secrets.add(token);
    const shown = await cluster.api("GET", `/v1/webapi/invites/${token}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.user, "hank");
    const enrollment = await cluster.api("POST", `/v1/webapi/invites/${token}/totp`);
    assert.match(enrollment.body.otpauth_uri, /^otpauth:\/\/totp\//);
    assert.match(enrollment.body.qr_data_url, /^data:image\/png;base64,/);
    const hank = { name: "hank", password: PASSWORD, totpSecret: enrollment.body.secret };
    secrets.add(hank.totpSecret);

    const short = await cluster.api("POST", `/v1/webapi/invites/${token}`, {
      password: "elevenchars",
      second_factor_token: currentCode(hank),
    });
    assert.equal(short.status, 400);
    assert.match(short.body.error.message, /at least 12/);
    secrets.add("elevenchars");

    const badCode = await cluster.api("POST", `/v1/webapi/invites/${token}`, {
      password: PASSWORD,
      second_factor_token: wrongCode(hank.totpSecret),
    });
    assert.equal(badCode.status, 400);

    const done = await cluster.api("POST", `/v1/webapi/invites/${token}`, {
      password: PASSWORD,
      second_factor_token: await cluster.otp(hank),
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    secrets.add(cookieOf(done.headers).split("=")[1], done.body.csrf_token);
    const again = await cluster.api("POST", `/v1/webapi/invites/${token}`, {
      password: "another long passphrase",
      second_factor_token: await cluster.otp(hank),
    });
    assert.equal(again.status, 404);
    assert.equal(again.body.error.kind, "not_found");
    assert.equal((await cluster.api("GET", `/v1/webapi/invites/${token}`)).status, 404);
    assert.equal((await cluster.api("POST", `/v1/webapi/invites/${token}/totp`)).status, 404);

    // Two completions racing for one invite: exactly one wins.
    const jillToken = await addUser(cluster, "jill");
    secrets.add(jillToken);
    const jillSecret = (await cluster.api("POST", `/v1/webapi/invites/${jillToken}/totp`)).body
      .secret;
    secrets.add(jillSecret);
    const jillCode = await cluster.otp({
      name: "jill",
      password: PASSWORD,
      totpSecret: jillSecret,
    });
    const completions = await Promise.all(
      [1, 2].map(() =>
        cluster.api("POST", `/v1/webapi/invites/${jillToken}`, {
          password: PASSWORD,
          second_factor_token: jillCode,
        })
      ),
    );
    assert.deepEqual(completions.map((r) => r.status).sort(), [200, 404]);
    for (const r of completions.filter((r) => r.status === 200)) {
      secrets.add(cookieOf(r.headers).split("=")[1], r.body.csrf_token);
    }

    const brief = await addUser(cluster, "ivan", { ttl: "1s" });
    secrets.add(brief);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const expired = await cluster.api("GET", `/v1/webapi/invites/${brief}`);
    assert.equal(expired.status, 404);
    assert.match(expired.body.error.message, /expired/);
    assert.equal((await cluster.api("POST", `/v1/webapi/invites/${brief}/totp`)).status, 404);
    const late = await cluster.api("POST", `/v1/webapi/invites/${brief}`, {
      password: PASSWORD,
      second_factor_token: "123456",
    });
    assert.equal(late.status, 404);
  });

  await t.step("users reset revokes the password and sessions; the new invite works", async () => {
    const gina = await signUp(cluster, secrets, "gina");
    const reset = await cluster.admin("users", "reset", "gina");
    assert.equal(reset.code, 0, reset.stderr);
    const token = reset.stdout.match(/\/web\/invite\/([A-Za-z0-9_-]+)/)?.[1];
    assert.ok(token, reset.stdout);
    secrets.add(token);

    const old = await webLogin(gina, currentCode(gina));
    assert.equal(old.status, 401);
    assert.equal(old.body.error.message, GENERIC);
    const session = await cluster.api("GET", "/v1/webapi/sessions/current", undefined, {
      cookie: gina.cookie,
    });
    assert.equal(session.status, 401, "web sessions end with the reset");
    assert.equal((await cluster.api("GET", `/v1/webapi/invites/${gina.token}`)).status, 404);

    const enrollment = await cluster.api("POST", `/v1/webapi/invites/${token}/totp`);
    assert.equal(enrollment.status, 200);
    assert.notEqual(enrollment.body.secret, gina.totpSecret);
    const renewed = { name: "gina", password: "a brand new passphrase", totpSecret: "" };
    renewed.totpSecret = enrollment.body.secret;
    secrets.add(renewed.password, renewed.totpSecret);
    const done = await cluster.api("POST", `/v1/webapi/invites/${token}`, {
      password: renewed.password,
      second_factor_token: await cluster.otp(renewed),
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    secrets.add(cookieOf(done.headers).split("=")[1], done.body.csrf_token);
    const fresh = await webLogin(renewed, await cluster.otp(renewed));
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    secrets.add(cookieOf(fresh.headers).split("=")[1], fresh.body.csrf_token);
    const stale = await webLogin(gina, currentCode(renewed));
    assert.equal(stale.status, 401, "the old password stays revoked");
  });

  await t.step("the audit log records the events and no secret", async () => {
    const result = await cluster.admin("audit", "--json");
    assert.equal(result.code, 0, result.stderr);
    // deno-lint-ignore no-explicit-any
    const events: any[] = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const find = (code: string, predicate: (e: Record<string, unknown>) => boolean = () => true) =>
      events.find((e) => e.code === code && predicate(e));
    for (const event of events) {
      assert.match(event.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    }
    assert.ok(find("user.login", (e) => e.user === "bob" && e.success === true));
    const failed = find("user.login", (e) => e.user === "bob" && e.success === false);
    assert.ok(failed, "failed logins are recorded");
    assert.equal(failed.remote_addr, "127.0.0.1");
    assert.ok(find("user.login", (e) => e.user === "nobody" && e.success === false));
    assert.ok(find("user.login.locked", (e) => e.user === "carol"));
    const issued = find("cert.issue", (e) => e.user === "alice");
    assert.ok(issued, "cert.issue recorded");
    assert.deepEqual(issued.principals, ["alice", "root"]);
    assert.equal(issued.ttl_s, 12 * 3600);
    assert.equal(issued.key_fingerprint, fingerprint(parsePublicKeyLine(aliceKeyPub).key));
    const keygenFingerprint = (await sshKeygen(["-l", "-f", "/dev/stdin"], { stdin: aliceKeyPub }))
      .stdout.split(" ")[1];
    assert.equal(issued.key_fingerprint, keygenFingerprint);
    assert.ok(find("cert.issue", (e) => e.user === "frank" && e.ttl_s === 3600));
    assert.ok(find("user.create", (e) => e.name === "alice" && e.user === "cli"));
    assert.ok(find("node.add", (e) => e.node === "saturn" && /^SHA256:/.test(String(e.host_key))));
    assert.ok(find("invite.used", (e) => e.user === "hank" && e.kind === "signup"));
    assert.ok(find("invite.used", (e) => e.user === "gina" && e.kind === "reset"));
    assert.ok(find("user.reset", (e) => e.name === "gina"));
    assert.ok(find("user.logout", (e) => e.user === "bob"));

    const filtered = await cluster.admin("audit", "--json", "--type", "cert.", "--user", "frank");
    const codes = filtered.stdout.trim().split("\n").map((l) => JSON.parse(l).code);
    assert.deepEqual([...new Set(codes)], ["cert.issue"]);

    const adminToken = cluster.postern.logs().match(/\/web\/invite\/([A-Za-z0-9_-]+)/)?.[1];
    assert.ok(adminToken, "the first start prints the admin invite");
    assert.ok(!secrets.values.has(adminToken));
    const file = await Deno.readTextFile(join(cluster.postern.dataDir, "audit.jsonl"));
    assert.ok(file.includes('"code":"cert.issue"'), "audit.jsonl is written");
    const logs = cluster.postern.logs();
    assert.ok(secrets.values.size >= 30, `collected ${secrets.values.size} secrets`);
    for (const secret of secrets.values) {
      for (const [where, text] of [["audit.jsonl", file], ["audit --json", result.stdout]]) {
        assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 4)}…) is in ${where}`);
      }
      assert.ok(!logs.includes(secret), `a secret (${secret.slice(0, 4)}…) is in the server log`);
    }
  });
});

Deno.test("a certificate-signed API request is accepted once: a replayed header is refused on every proxy", async () => {
  await using cluster = await startCluster({ split: true });
  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const path = "/v1/webapi/sites/postern/nodes";
  const headers = await certAuthHeaders("GET", path, {
    privateKey: await Deno.readTextFile(id.keyPath),
    certificate: id.cert,
  });
  const first = await cluster.api("GET", path, undefined, headers);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const replayed = await cluster.api("GET", path, undefined, headers);
  assert.equal(replayed.status, 401);
  assert.match(replayed.body.error.message, /used already/);
  // The same header on the other proxy: auth's store remembers it for both.
  const [proxyA] = cluster.proxies;
  const clientA = await proxyA.client();
  const elsewhere = await fetch(`${proxyA.url}${path}`, { client: clientA, headers });
  clientA.close();
  assert.equal(elsewhere.status, 401);
  assert.match(await elsewhere.text(), /used already/);
  const fresh = await certAuthHeaders("GET", path, {
    privateKey: await Deno.readTextFile(id.keyPath),
    certificate: id.cert,
  });
  assert.equal((await cluster.api("GET", path, undefined, fresh)).status, 200);
});
