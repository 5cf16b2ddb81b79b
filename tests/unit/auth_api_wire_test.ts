/**
 * The Auth API's pure parts: the wire codec keeps dates and bytes, errors
 * cross as their kind, admin calls name the proven user as the actor, and
 * auth's web-session agent signs only with the session's key.
 */

import assert from "node:assert/strict";
import { decodeWire, encodeWire, errorFromWire, errorToWire } from "../../lib/auth/api/wire.ts";
import { ADMIN_CALLS, callAs, scopedAdmin } from "../../lib/auth/admin_scope.ts";
import type { AuthAdmin } from "../../lib/auth/service.ts";
import { answerWebSessionAgent } from "../../lib/auth/web_session_agent.ts";
import { CertAuthority } from "../../lib/auth/authority.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import {
  AccessDenied,
  BadRequest,
  Conflict,
  type ErrorKind,
  NotFound,
  PosternError,
  TooLarge,
  TooManyRequests,
  Unauthenticated,
  Unavailable,
} from "../../lib/errors.ts";
import {
  AgentMessage,
  parseIdentitiesAnswer,
  parseSignResponse,
  requestIdentities,
  signRequest,
} from "../../lib/sshagent/protocol.ts";
import { encodeOpenSshPrivateKey, generateEd25519KeyPair } from "../../lib/sshcert/mod.ts";
import { createPublicKey, verify } from "node:crypto";

Deno.test("encodeWire() and decodeWire() keep dates, bytes and nesting", () => {
  const value = {
    when: new Date("2026-12-03T07:00:00.000Z"),
    blob: Uint8Array.of(0, 1, 255),
    list: [{ inner: new Date(0) }, null, "text", 3],
    plain: { $date: 1 },
  };
  const decoded = decodeWire(encodeWire(value)) as typeof value;
  assert.deepEqual(decoded, value);
  assert.ok(decoded.when instanceof Date);
  assert.ok(decoded.blob instanceof Uint8Array);
});

Deno.test("decodeWire() refuses text that is not JSON with BadRequest", () => {
  assert.throws(() => decodeWire("{"), BadRequest);
});

Deno.test("errors cross the wire as their kind and message only", () => {
  const cases: [PosternError, ErrorKind, new (...a: never[]) => PosternError][] = [
    [new BadRequest("b"), "bad_request", BadRequest],
    [new Unauthenticated("u"), "unauthenticated", Unauthenticated],
    [new AccessDenied("a"), "access_denied", AccessDenied],
    [new NotFound("n"), "not_found", NotFound],
    [new Conflict("c"), "conflict", Conflict],
    [new Unavailable("v"), "unavailable", Unavailable],
    [new TooLarge("t"), "too_large", TooLarge],
    [new TooManyRequests("r", 42), "rate_limited", TooManyRequests],
  ];
  for (const [error, kind, type] of cases) {
    const wire = JSON.parse(JSON.stringify(errorToWire(error)));
    assert.equal(wire.kind, kind);
    const rebuilt = errorFromWire(wire);
    assert.ok(rebuilt instanceof type, kind);
    assert.equal(rebuilt.message, error.message);
  }
  assert.equal(
    (errorFromWire(errorToWire(new TooManyRequests("r", 42))!) as TooManyRequests)
      .retryAfterS,
    42,
  );
  assert.equal(errorToWire(new Error("secret stack")), null, "other errors never cross");
});

Deno.test("callAs() names the proven user as the actor, whatever the caller passed", async () => {
  const seen: unknown[][] = [];
  const admin = Object.fromEntries(
    Object.keys(ADMIN_CALLS).map((m) => [m, (...args: unknown[]) => {
      seen.push([m, ...args]);
      return Promise.resolve();
    }]),
  ) as unknown as AuthAdmin;
  await callAs(admin, "removeUser", ["bob", "mallory"], "alice");
  await callAs(admin, "lockUser", ["bob"], "alice");
  await callAs(admin, "listUsers", [], "alice");
  assert.deepEqual(seen, [
    ["removeUser", "bob", "alice"],
    ["lockUser", "bob", undefined, "alice"],
    ["listUsers"],
  ]);
});

Deno.test("scopedAdmin() checks each call's permission before calling", async () => {
  const asked: (string | null)[] = [];
  const admin = { listUsers: () => Promise.resolve(["x"]) } as unknown as AuthAdmin;
  const scoped = scopedAdmin(admin, (permission) => {
    asked.push(permission);
    return permission === "users"
      ? Promise.resolve("alice")
      : Promise.reject(new AccessDenied("no"));
  });
  assert.deepEqual(await scoped.listUsers(), ["x"]);
  await assert.rejects(() => scoped.listAllNodes(), AccessDenied);
  assert.deepEqual(asked, ["users", "nodes"]);
});

Deno.test("answerWebSessionAgent() lists the session certificate and signs only for it", async () => {
  const dir = await Deno.makeTempDir();
  const store = SqliteStore.open(dir);
  try {
    const ca = await CertAuthority.open(store);
    const pair = generateEd25519KeyPair();
    const cert = ca.signUser({
      publicKey: pair.publicKeyBlob,
      user: "alice",
      principals: ["root"],
      ttlMs: 60_000,
      permits: { portForwarding: false, agentForwarding: false },
    });
    const session = {
      user: "alice",
      cert: cert.line,
      privateKey: encodeOpenSshPrivateKey(pair.privateKey, "alice"),
    };
    const [identity] = parseIdentitiesAnswer(answerWebSessionAgent(session, requestIdentities()));
    assert.equal(identity.comment, "alice");
    const data = new TextEncoder().encode("session id and request");
    const signature = parseSignResponse(
      answerWebSessionAgent(session, signRequest(identity.blob, data)),
    );
    assert.ok(verify(null, data, createPublicKey(pair.privateKey), signature));
    const other = generateEd25519KeyPair().publicKeyBlob;
    assert.deepEqual(
      answerWebSessionAgent(session, signRequest(other, data)),
      Uint8Array.of(AgentMessage.FAILURE),
    );
    assert.deepEqual(
      answerWebSessionAgent(session, Uint8Array.of(AgentMessage.REMOVE_ALL_IDENTITIES)),
      Uint8Array.of(AgentMessage.FAILURE),
    );
    assert.throws(
      () => answerWebSessionAgent(session, Uint8Array.of(AgentMessage.SIGN_REQUEST)),
      BadRequest,
    );
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
