import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { isKind } from "../../lib/errors.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";
import { PostgresStore } from "../../lib/store/postgres.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { migrate, type Migration, MIGRATIONS } from "../../lib/store/sqlite/migrations.ts";
import { hashSecret, type NewUser, type Store } from "../../lib/store/store.ts";

const T0 = 1_700_000_000_000;
const MIN = 60_000;

async function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "postern-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function user(name: string, extra: Partial<NewUser> = {}): NewUser {
  return { name, roles: ["access"], logins: [name], created: T0, ...extra };
}

/** Opens one more store on the test's database (two calls: two connections to one database). */
type OpenStore = () => Promise<Store>;

/** The `Store` contract: every case runs on SQLite and on PostgreSQL (at the end of this file). */
const CONTRACT: { name: string; run: (open: OpenStore) => Promise<void> }[] = [];

function contract(name: string, run: (open: OpenStore) => Promise<void>): void {
  CONTRACT.push({ name, run });
}

/** Runs `run` with an opener of stores that are all closed afterwards. */
async function withStores(
  openOne: () => Promise<Store>,
  run: (open: OpenStore) => Promise<void>,
): Promise<void> {
  const opened: Store[] = [];
  try {
    await run(async () => {
      const store = await openOne();
      opened.push(store);
      return store;
    });
  } finally {
    for (const store of opened) await store.close();
  }
}

async function rejectsKind(p: Promise<unknown>, kind: Parameters<typeof isKind>[1]) {
  await assert.rejects(p, (e) => isKind(e, kind));
}

Deno.test("SqliteStore.open() creates a private WAL database with foreign keys on", async () => {
  await withDir(async (dir) => {
    const store = SqliteStore.open(dir);
    try {
      assert.equal(store.path, join(dir, "postern.db"));
      assert.equal(store.schemaVersion, MIGRATIONS.at(-1)!.version);
      for (const f of ["postern.db", "postern.db-wal", "postern.db-shm"]) {
        assert.equal((await Deno.stat(join(dir, f))).mode! & 0o777, 0o600, f);
      }
      const probe = new DatabaseSync(store.path);
      assert.equal(probe.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      probe.close();
      // Foreign keys are per connection: prove ours enforces them.
      await rejectsKind(
        store.invites.create({
          tokenHash: hashSecret("t"),
          user: "ghost",
          kind: "signup",
          expires: T0 + MIN,
          created: T0,
        }),
        "not_found",
      );
    } finally {
      store.close();
    }
  });
});

Deno.test("SqliteStore.releaseMemory() empties the page cache and the store reads on", async () => {
  await withDir(async (dir) => {
    const store = SqliteStore.open(dir);
    await store.users.create(user("alice"));
    store.releaseMemory();
    assert.equal((await store.users.get("alice"))?.name, "alice");
    store.close();
    store.releaseMemory();
  });
});

Deno.test("SqliteStore.open() is idempotent across reopen and keeps data", async () => {
  await withDir(async (dir) => {
    const a = SqliteStore.open(dir);
    await a.users.create(user("alice"));
    a.close();
    const b = SqliteStore.open(dir);
    try {
      assert.equal(b.schemaVersion, MIGRATIONS.at(-1)!.version);
      assert.equal((await b.users.get("alice"))?.name, "alice");
      const raw = new DatabaseSync(b.path);
      const rows = raw.prepare("SELECT version FROM schema_version").all();
      raw.close();
      assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
    } finally {
      b.close();
    }
  });
});

Deno.test("migrate() applies new migrations once and rolls back a failing one", async () => {
  await withDir((dir) => {
    const db = new DatabaseSync(join(dir, "m.db"));
    const one: Migration[] = [{ version: 1, description: "t", up: "CREATE TABLE t (a INT)" }];
    assert.equal(migrate(db, one), 1);
    assert.equal(migrate(db, one), 1);
    const two: Migration[] = [...one, {
      version: 2,
      description: "u",
      up: (d) => d.exec("CREATE TABLE u (a INT); INSERT INTO t VALUES (1)"),
    }];
    assert.equal(migrate(db, two), 2);
    assert.equal(migrate(db, two), 2);
    assert.equal(db.prepare("SELECT count(*) AS n FROM t").get()?.n, 1);
    const bad: Migration[] = [...two, {
      version: 3,
      description: "bad",
      up: "CREATE TABLE v (a INT); INSERT INTO nowhere VALUES (1)",
    }];
    assert.throws(() => migrate(db, bad));
    assert.equal(migrate(db, two), 2);
    assert.equal(
      db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'v'").get()?.n,
      0,
    );
    assert.throws(() => migrate(db, one), (e) => isKind(e, "conflict"));
    db.close();
  });
});

contract("two stores on one database see each other's writes", async (open) => {
  const a = await open();
  const b = await open();
  await a.users.create(user("alice"));
  assert.deepEqual((await b.users.get("alice"))?.logins, ["alice"]);
  await b.users.update("alice", { logins: ["root"] }, T0 + 1);
  assert.deepEqual((await a.users.get("alice"))?.logins, ["root"]);
  await b.users.delete("alice");
  assert.equal(await a.users.get("alice"), null);
});

contract("cas.putIfAbsent() leaves one CA when two stores race", async (open) => {
  const a = await open();
  const b = await open();
  assert.equal(await a.cas.get("user"), null);
  const ca = (n: string) => ({
    kind: "user" as const,
    privateKey: `key-${n}`,
    publicKey: `pub-${n}`,
    created: T0,
  });
  const [fromA, fromB] = await Promise.all([
    a.cas.putIfAbsent(ca("a")),
    b.cas.putIfAbsent(ca("b")),
  ]);
  assert.deepEqual(fromA, fromB);
  assert.deepEqual(await b.cas.get("user"), fromA);
  assert.equal(await a.cas.get("host"), null);
});

contract("users: create, conflict, update patch, list and cascading delete", async (open) => {
  const s = await open();
  const created = await s.users.create(user("bob", { passwordHash: "h1", totpSecret: "S" }));
  assert.deepEqual(created, {
    name: "bob",
    roles: ["access"],
    logins: ["bob"],
    passwordHash: "h1",
    pendingTotp: null,
    totpSecret: "S",
    totpConfirmed: false,
    failedLogins: 0,
    lockedUntil: null,
    lastTotpStep: 0,
    adminLockUntil: null,
    adminLockReason: null,
    connector: null,
    sessionMfaAt: null,
    created: T0,
    updated: T0,
  });
  await rejectsKind(s.users.create(user("bob")), "conflict");
  const sso = await s.users.create(user("carol", { connector: "okta" }));
  assert.equal(sso.connector, "okta");
  assert.equal((await s.users.get("carol"))?.connector, "okta");
  await s.users.markSessionMfa("carol", T0 + 7);
  assert.equal((await s.users.get("carol"))?.sessionMfaAt, T0 + 7);
  await rejectsKind(s.users.markSessionMfa("nobody", T0), "not_found");
  await s.users.create(user("alice"));
  assert.deepEqual((await s.users.list()).map((u) => u.name), ["alice", "bob", "carol"]);

  const updated = await s.users.update(
    "bob",
    { passwordHash: null, totpConfirmed: true },
    T0 + 5,
  );
  assert.equal(updated.passwordHash, null);
  assert.equal(updated.totpConfirmed, true);
  assert.equal(updated.totpSecret, "S", "fields absent from the patch are kept");
  assert.deepEqual(updated.roles, ["access"]);
  assert.equal(updated.updated, T0 + 5);
  await rejectsKind(s.users.update("nobody", { roles: [] }, T0), "not_found");

  await s.invites.create({
    tokenHash: hashSecret("inv"),
    user: "bob",
    kind: "reset",
    expires: T0 + MIN,
    created: T0,
  });
  await s.webSessions.create(webSession("sid", "bob"));
  assert.equal(await s.users.delete("bob"), true);
  assert.equal(await s.users.delete("bob"), false);
  assert.equal(await s.invites.get(hashSecret("inv")), null);
  assert.equal(await s.webSessions.get(hashSecret("sid")), null);
});

contract(
  "users.reserveLoginAttempt() admits at most the limit, and a racing success keeps their failures",
  async (open) => {
    const s = await open();
    await s.users.create(user("dora"));
    const lockMs = 15 * MIN;
    const expires = T0 + MIN;
    await s.users.recordLoginFailure("dora", T0, 3, lockMs);
    // One failure so far: two more attempts may be checked at once, not three.
    const first = await s.users.reserveLoginAttempt("dora", T0, 3, expires);
    const second = await s.users.reserveLoginAttempt("dora", T0, 3, expires);
    assert.ok(first && second);
    assert.equal(await s.users.reserveLoginAttempt("dora", T0, 3, expires), null);
    // The second fails while the first is still being checked; then the
    // first succeeds: it clears the failure before it, not the racing one.
    await s.users.recordLoginFailure("dora", T0, 3, lockMs, second);
    await s.users.recordLoginSuccess("dora", first, T0);
    assert.equal((await s.users.get("dora"))?.failedLogins, 1);
    // An attempt never settled stops counting when it expires.
    await s.users.reserveLoginAttempt("dora", T0, 2, expires);
    assert.equal(await s.users.reserveLoginAttempt("dora", T0, 2, expires), null);
    assert.ok(await s.users.reserveLoginAttempt("dora", expires, 2, expires + MIN));
    // A locked user gets no attempt.
    await s.users.recordLoginFailure("dora", T0, 2, lockMs);
    assert.equal(await s.users.reserveLoginAttempt("dora", T0 + 1, 9, expires + MIN), null);
    await rejectsKind(s.users.reserveLoginAttempt("nobody", T0, 3, expires), "not_found");
  },
);

contract(
  "users.recordLoginFailure() locks at the limit and restarts after the lock",
  async (open) => {
    const s = await open();
    await s.users.create(user("carol"));
    const lockMs = 15 * MIN;
    assert.deepEqual(await s.users.recordLoginFailure("carol", T0, 3, lockMs), {
      failedLogins: 1,
      lockedUntil: null,
    });
    await s.users.recordLoginFailure("carol", T0 + 1, 3, lockMs);
    assert.deepEqual(await s.users.recordLoginFailure("carol", T0 + 2, 3, lockMs), {
      failedLogins: 3,
      lockedUntil: T0 + 2 + lockMs,
    });
    assert.equal((await s.users.get("carol"))?.lockedUntil, T0 + 2 + lockMs);
    // The lock ran out: the next failure starts a fresh count.
    assert.deepEqual(await s.users.recordLoginFailure("carol", T0 + 3 + lockMs, 3, lockMs), {
      failedLogins: 1,
      lockedUntil: null,
    });
    await s.users.resetLoginFailures("carol", T0 + 4 + lockMs);
    const reset = await s.users.get("carol");
    assert.equal(reset?.failedLogins, 0);
    assert.equal(reset?.lockedUntil, null);
    await rejectsKind(s.users.recordLoginFailure("nobody", T0, 3, lockMs), "not_found");
  },
);

contract("users.useTotpStep() accepts only steps later than the last used", async (open) => {
  const a = await open();
  const b = await open();
  await a.users.create(user("dave"));
  assert.equal(await a.users.useTotpStep("dave", 100), true);
  assert.equal(await a.users.useTotpStep("dave", 100), false);
  assert.equal(await b.users.useTotpStep("dave", 99), false);
  const both = await Promise.all([
    a.users.useTotpStep("dave", 101),
    b.users.useTotpStep("dave", 101),
  ]);
  assert.deepEqual(both.sort(), [false, true]);
  assert.equal((await a.users.get("dave"))?.lastTotpStep, 101);
  assert.equal(await a.users.useTotpStep("nobody", 200), false);
  await a.users.update("dave", { roles: ["admin"] }, T0);
  assert.equal((await a.users.get("dave"))?.lastTotpStep, 101, "other changes keep it");
  await a.users.update("dave", { totpSecret: "NEWSECRET" }, T0);
  assert.equal((await a.users.get("dave"))?.lastTotpStep, 0, "a new secret restarts it");
  assert.equal(await a.users.useTotpStep("dave", 50), true);
});

function securityKey(id: string, owner: string, counter = 0) {
  return {
    id,
    user: owner,
    name: `key ${id}`,
    publicKey: "pQECAyYgASFYIA",
    counter,
    transports: ["usb", "nfc"],
    discoverable: true,
    created: T0,
    lastUsed: null,
  };
}

contract("webauthn: create, conflict, list, delete per user and cascade", async (open) => {
  const s = await open();
  await s.users.create(user("gail"));
  await s.users.create(user("hugo"));
  assert.deepEqual(await s.webauthn.create(securityKey("k1", "gail")), securityKey("k1", "gail"));
  await s.webauthn.create({ ...securityKey("k2", "gail"), created: T0 + MIN });
  await s.webauthn.create(securityKey("k3", "hugo"));
  await rejectsKind(s.webauthn.create(securityKey("k1", "hugo")), "conflict");
  await rejectsKind(s.webauthn.create(securityKey("k9", "ghost")), "not_found");
  assert.deepEqual(await s.webauthn.get("k1"), securityKey("k1", "gail"));
  assert.equal(await s.webauthn.get("nope"), null);
  assert.deepEqual((await s.webauthn.listForUser("gail")).map((k) => k.id), ["k1", "k2"]);
  assert.equal(await s.webauthn.delete("hugo", "k1"), false, "only the owner's key is deleted");
  assert.equal(await s.webauthn.delete("gail", "k1"), true);
  assert.deepEqual((await s.webauthn.listForUser("gail")).map((k) => k.id), ["k2"]);
  assert.equal(await s.webauthn.deleteForUser("gail"), 1);
  await s.users.delete("hugo");
  assert.equal(await s.webauthn.get("k3"), null, "deleting a user deletes their keys");
});

contract("webauthn.use() accepts only a counter that moved forward", async (open) => {
  const a = await open();
  const b = await open();
  await a.users.create(user("ivan"));
  await a.webauthn.create(securityKey("c1", "ivan", 5));
  assert.equal(
    await a.webauthn.use("c1", 5, T0 + 1),
    false,
    "the same counter is a clone or replay",
  );
  assert.equal(await a.webauthn.use("c1", 3, T0 + 1), false, "a counter going backwards");
  assert.equal(await a.webauthn.use("c1", 6, T0 + 2), true);
  const stored = await a.webauthn.get("c1");
  assert.equal(stored?.counter, 6);
  assert.equal(stored?.lastUsed, T0 + 2);
  const both = await Promise.all([
    a.webauthn.use("c1", 7, T0 + 3),
    b.webauthn.use("c1", 7, T0 + 3),
  ]);
  assert.deepEqual(both.sort(), [false, true]);
  // Authenticators without a counter always say 0.
  await a.webauthn.create(securityKey("c0", "ivan", 0));
  assert.equal(await a.webauthn.use("c0", 0, T0 + 4), true);
  assert.equal(await a.webauthn.use("c0", 0, T0 + 5), true);
  assert.equal(await a.webauthn.use("nope", 9, T0), false);
});

contract("webauthn challenges are taken once and expire", async (open) => {
  const a = await open();
  const b = await open();
  await a.webauthn.putChallenge(
    { challenge: "ch1", user: "jo", purpose: "login", expires: T0 + MIN },
    T0,
  );
  await a.webauthn.putChallenge(
    { challenge: "ch2", user: null, purpose: "passwordless", expires: T0 + MIN },
    T0,
  );
  const both = await Promise.all([
    a.webauthn.takeChallenge("ch1", T0),
    b.webauthn.takeChallenge("ch1", T0),
  ]);
  assert.deepEqual(both.filter(Boolean), [
    { challenge: "ch1", user: "jo", purpose: "login", expires: T0 + MIN },
  ]);
  assert.equal(await a.webauthn.takeChallenge("ch2", T0 + MIN), null, "expired");
  assert.equal(await a.webauthn.takeChallenge("unknown", T0), null);
});

contract("ssoRequests are taken once, and not after they expire", async (open) => {
  const a = await open();
  const b = await open();
  const request = {
    stateHash: hashSecret("state"),
    connector: "okta",
    nonce: "n",
    codeVerifier: "v",
    redirectUri: "https://proxy.example.com/v1/webapi/oidc/callback",
    expires: T0 + MIN,
  };
  await a.ssoRequests.put(request, T0);
  await a.ssoRequests.put({ ...request, stateHash: hashSecret("old") }, T0);
  const both = await Promise.all([
    a.ssoRequests.take(hashSecret("state"), T0),
    b.ssoRequests.take(hashSecret("state"), T0),
  ]);
  assert.deepEqual(both.filter(Boolean), [request]);
  assert.equal(await a.ssoRequests.take(hashSecret("old"), T0 + MIN), null, "expired");
});

contract("cliLogins: approved once, the certificate handed out once", async (open) => {
  const a = await open();
  const b = await open();
  await a.users.create(user("kim"));
  const pending = {
    idHash: hashSecret("poll-secret"),
    code: "ABCD-EFGH",
    publicKey: "ssh-ed25519 AAAA kim@postern",
    ttlMs: null,
    remoteAddr: "192.0.2.7",
    created: T0,
    expires: T0 + MIN,
    user: null,
    cert: null,
  };
  await a.cliLogins.create(pending);
  await rejectsKind(
    a.cliLogins.create({ ...pending, idHash: hashSecret("other") }),
    "conflict",
  );
  assert.deepEqual(await a.cliLogins.getPending("ABCD-EFGH", T0), pending);
  assert.deepEqual(await a.cliLogins.poll(hashSecret("poll-secret"), T0), pending);
  const both = await Promise.all([
    a.cliLogins.approve("ABCD-EFGH", "kim", "cert-line", T0),
    b.cliLogins.approve("ABCD-EFGH", "kim", "cert-line", T0),
  ]);
  assert.deepEqual(both.sort(), [false, true]);
  assert.equal(await a.cliLogins.getPending("ABCD-EFGH", T0), null, "no longer pending");
  const polls = await Promise.all([
    a.cliLogins.poll(hashSecret("poll-secret"), T0),
    b.cliLogins.poll(hashSecret("poll-secret"), T0),
  ]);
  assert.deepEqual(polls.filter(Boolean), [{ ...pending, user: "kim", cert: "cert-line" }]);
  assert.equal(await a.cliLogins.poll(hashSecret("poll-secret"), T0), null);
  await a.cliLogins.create({ ...pending, code: "LATE-CODE", idHash: hashSecret("late") });
  assert.equal(await a.cliLogins.approve("LATE-CODE", "kim", "c", T0 + MIN), false, "expired");
  assert.equal(await a.cliLogins.poll(hashSecret("late"), T0 + MIN), null);
});

contract("invites.consume() is single-use and refuses expired or unknown tokens", async (open) => {
  const s = await open();
  await s.users.create(user("erin"));
  const invite = await s.invites.create({
    tokenHash: hashSecret("good"),
    user: "erin",
    kind: "signup",
    expires: T0 + MIN,
    created: T0,
  });
  assert.equal(invite.usedAt, null);
  await rejectsKind(s.invites.create({ ...invite }), "conflict");
  await s.invites.create({ ...invite, tokenHash: hashSecret("old"), expires: T0 });

  const first = await s.invites.consume(hashSecret("good"), T0 + 1);
  assert.deepEqual(first, { ok: true, invite: { ...invite, usedAt: T0 + 1 } });
  assert.deepEqual(await s.invites.consume(hashSecret("good"), T0 + 2), {
    ok: false,
    reason: "used",
  });
  assert.deepEqual(await s.invites.consume(hashSecret("old"), T0), {
    ok: false,
    reason: "expired",
  });
  assert.deepEqual(await s.invites.consume(hashSecret("nope"), T0), {
    ok: false,
    reason: "not_found",
  });
  assert.equal(await s.invites.deleteForUser("erin"), 2);
});

// Real processes, as `postern users ...` next to a running server: each invite
// must be consumed exactly once and every login failure counted.
Deno.test("invites and lockout stay atomic across processes", async () => {
  await withDir(async (dir) => {
    const s = SqliteStore.open(dir);
    const invites = 200;
    const procs = 3;
    try {
      await s.users.create(user("frank"));
      for (let i = 0; i < invites; i++) {
        await s.invites.create({
          tokenHash: hashSecret(`tok${i}`),
          user: "frank",
          kind: "signup",
          expires: T0 + MIN,
          created: T0,
        });
      }
      const code = `
        import { SqliteStore } from ${
        JSON.stringify(import.meta.resolve("../../lib/store/sqlite.ts"))
      };
        import { hashSecret } from ${
        JSON.stringify(import.meta.resolve("../../lib/store/store.ts"))
      };
        const s = SqliteStore.open(${JSON.stringify(dir)});
        // Start together so the processes really contend.
        await new Promise((r) => setTimeout(r, ${Date.now() + 500} - Date.now()));
        const won = [];
        for (let i = 0; i < ${invites}; i++) {
          await s.users.recordLoginFailure("frank", ${T0}, 1e9, 1);
          const r = await s.invites.consume(hashSecret("tok" + i), ${T0 + 1});
          if (r.ok) won.push(i);
        }
        console.log(JSON.stringify(won));
        s.close();
      `;
      const outputs = await Promise.all(
        Array.from({ length: procs }, () =>
          new Deno.Command(Deno.execPath(), {
            args: ["eval", "--no-check", code],
            stdout: "piped",
            stderr: "piped",
          }).output()),
      );
      const wins: number[] = [];
      for (const out of outputs) {
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        wins.push(...JSON.parse(new TextDecoder().decode(out.stdout)));
      }
      assert.deepEqual(wins.sort((x, y) => x - y), Array.from({ length: invites }, (_, i) => i));
      assert.equal((await s.users.get("frank"))?.failedLogins, procs * invites);
    } finally {
      s.close();
    }
  });
});

Deno.test("transaction() commits, rolls back, and holds other calls until it ends", async () => {
  await withDir(async (dir) => {
    const s = SqliteStore.open(dir);
    try {
      await assert.rejects(
        s.transaction(async (tx) => {
          await tx.users.create(user("gina"));
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal(await s.users.get("gina"), null);

      const txDone = s.transaction(async (tx) => {
        await tx.users.create(user("gina"));
        await new Promise((r) => setTimeout(r, 20));
        await tx.users.update("gina", { logins: ["ops"] }, T0 + 1);
      });
      // Issued while the transaction is open, outside it.
      const outsideSaw = (await s.users.get("gina"))?.logins;
      await txDone;
      assert.deepEqual(outsideSaw, ["ops"], "the outside read waited for the commit");

      let leaked: unknown;
      await assert.rejects(
        s.transaction(async (tx) => {
          leaked = tx;
          await s.users.get("gina");
        }),
        /use the `tx` argument/,
      );
      await assert.rejects((leaked as Store).users.get("gina"), /after it has ended/);
    } finally {
      s.close();
    }
  });
});

Deno.test("a write blocked by another connection's transaction fails as Unavailable", async () => {
  await withDir(async (dir) => {
    const a = SqliteStore.open(dir);
    const b = SqliteStore.open(dir, { busyTimeoutMs: 30 });
    try {
      await a.transaction(async (tx) => {
        await tx.users.create(user("hank"));
        await rejectsKind(b.users.create(user("ivy")), "unavailable");
        assert.equal(await b.users.get("hank"), null, "readers see the last commit");
      });
      assert.equal((await b.users.get("hank"))?.name, "hank");
    } finally {
      a.close();
      b.close();
    }
  });
});

function webSession(id: string, userName: string, now = T0) {
  return {
    idHash: hashSecret(id),
    user: userName,
    csrfTokenHash: hashSecret(`csrf-${id}`),
    privateKey: "PRIVATE",
    cert: "ssh-ed25519-cert-v01@openssh.com AAAA",
    created: now,
    lastSeen: now,
    expiresIdle: now + 10 * MIN,
    expiresAbs: now + 60 * MIN,
  };
}

contract("webSessions: touch slides the idle expiry up to the absolute one", async (open) => {
  const s = await open();
  await s.users.create(user("jo"));
  await rejectsKind(s.webSessions.create(webSession("x", "ghost")), "not_found");
  await s.webSessions.create(webSession("one", "jo"));
  await s.webSessions.create(webSession("two", "jo", T0 + 1));
  const one = hashSecret("one");

  const touched = await s.webSessions.touch(one, T0 + 5 * MIN, 10 * MIN);
  assert.equal(touched?.lastSeen, T0 + 5 * MIN);
  assert.equal(touched?.expiresIdle, T0 + 15 * MIN);
  const capped = await s.webSessions.touch(one, T0 + 14 * MIN, 100 * MIN);
  assert.equal(capped?.expiresIdle, T0 + 60 * MIN);
  assert.equal(await s.webSessions.touch(one, T0 + 60 * MIN, 10 * MIN), null);
  assert.equal(await s.webSessions.touch(hashSecret("two"), T0 + 11 * MIN, 10 * MIN), null);
  assert.equal(await s.webSessions.touch(hashSecret("nope"), T0, 10 * MIN), null);

  assert.deepEqual(
    (await s.webSessions.listForUser("jo")).map((w) => w.idHash),
    [hashSecret("two"), one],
  );
  await s.webSessions.create(webSession("three", "jo", T0 + 55 * MIN));
  assert.equal(await s.webSessions.deleteExpired(T0 + 60 * MIN), 2);
  assert.equal(await s.webSessions.delete(hashSecret("three")), true);
  await s.webSessions.create(webSession("four", "jo"));
  assert.equal(await s.webSessions.deleteForUser("jo"), 1);
});

contract("nodes: create, conflict, upsert keeps created, patch and delete", async (open) => {
  const s = await open();
  const saturn = {
    name: "saturn",
    addr: "10.0.0.5:22",
    labels: { env: "prod" },
    hostKey: "ssh-ed25519 AAAA",
    requireHostCert: false,
    source: "cli" as const,
    created: T0,
  };
  assert.deepEqual(await s.nodes.create(saturn), saturn);
  await rejectsKind(s.nodes.create(saturn), "conflict");
  const up = await s.nodes.upsert({
    ...saturn,
    addr: "10.0.0.6:22",
    source: "config",
    created: T0 + 9,
  });
  assert.equal(up.addr, "10.0.0.6:22");
  assert.equal(up.created, T0);
  await s.nodes.upsert({ ...saturn, name: "mars" });
  const patched = await s.nodes.update("saturn", { hostKey: null, requireHostCert: true });
  assert.equal(patched.hostKey, null);
  assert.equal(patched.requireHostCert, true);
  assert.deepEqual(patched.labels, { env: "prod" });
  await rejectsKind(s.nodes.update("pluto", { addr: "x:22" }), "not_found");
  assert.deepEqual((await s.nodes.list()).map((n) => n.name), ["mars", "saturn"]);
  assert.equal(await s.nodes.delete("mars"), true);
  assert.equal(await s.nodes.get("mars"), null);
});

contract("sessions: create, end and list by user and activity", async (open) => {
  const s = await open();
  const base = {
    login: "root",
    node: "saturn",
    kind: "ssh" as const,
    cols: 80,
    rows: 24,
    proxyId: "proxy-a",
  };
  await s.sessions.create({
    ...base,
    id: "s1",
    user: "kim",
    started: T0,
    recordingPath: "r/s1",
  });
  await s.sessions.create({
    ...base,
    id: "s2",
    user: "lee",
    started: T0 + 1,
    recordingPath: "r/s2",
  });
  await s.sessions.create({
    ...base,
    id: "s3",
    user: "kim",
    started: T0 + 2,
    recordingPath: "r/s3",
  });
  await rejectsKind(
    s.sessions.create({ ...base, id: "s1", user: "kim", started: T0, recordingPath: "x" }),
    "conflict",
  );
  const ended = await s.sessions.end("s1", T0 + 10, 0);
  assert.equal(ended.ended, T0 + 10);
  assert.equal(ended.exitCode, 0);
  await rejectsKind(s.sessions.end("zz", T0, null), "not_found");
  assert.deepEqual((await s.sessions.list()).map((x) => x.id), ["s3", "s2", "s1"]);
  assert.deepEqual((await s.sessions.list({ user: "kim" })).map((x) => x.id), ["s3", "s1"]);
  assert.deepEqual((await s.sessions.list({ activeOnly: true })).map((x) => x.id), [
    "s3",
    "s2",
  ]);
  assert.deepEqual(
    (await s.sessions.list({ user: "kim", activeOnly: true, limit: 5 })).map((x) => x.id),
    ["s3"],
  );
  assert.equal((await s.sessions.get("s2"))?.recordingPath, "r/s2");
});

contract(
  "sessions: trackers take heartbeats only from their proxy and go stale without",
  async (open) => {
    const s = await open();
    const base = { login: "root", node: "saturn", kind: "ssh" as const, cols: 80, rows: 24 };
    for (const [id, proxyId] of [["a1", "proxy-a"], ["b1", "proxy-b"]]) {
      await s.sessions.create({
        ...base,
        id,
        user: "kim",
        started: T0,
        recordingPath: id,
        proxyId,
      });
    }
    const created = await s.sessions.get("a1");
    assert.equal(created?.heartbeat, T0, "a tracker starts with its start as heartbeat");
    assert.deepEqual(created?.parties, []);
    const parties = [{ user: "kim", mode: "owner" as const }, {
      user: "lee",
      mode: "observer" as const,
    }];
    await s.sessions.heartbeat(
      "proxy-a",
      [{ id: "a1", parties }, { id: "b1", parties }],
      T0 + 20,
    );
    assert.deepEqual((await s.sessions.get("a1"))?.parties, parties);
    assert.equal((await s.sessions.get("b1"))?.heartbeat, T0, "proxy-a cannot vouch for b1");
    assert.deepEqual((await s.sessions.listStale(T0 + 10)).map((x) => x.id), ["b1"]);
    await s.sessions.end("b1", T0 + 30, null);
    assert.deepEqual(await s.sessions.listStale(T0 + 10), [], "ended sessions are not stale");
    await s.sessions.heartbeat("proxy-b", [{ id: "b1", parties }], T0 + 40);
    assert.equal((await s.sessions.get("b1"))?.heartbeat, T0, "an ended tracker stays ended");
  },
);

contract(
  "sessions.list() filters by node, login and start time, and pages with offset",
  async (open) => {
    const s = await open();
    const rows: [string, string, string, string, number][] = [
      ["a", "kim", "saturn", "root", T0],
      ["b", "kim", "mars", "root", T0 + MIN],
      ["c", "lee", "saturn", "deploy", T0 + 2 * MIN],
      ["d", "kim", "saturn", "deploy", T0 + 3 * MIN],
    ];
    for (const [id, user, node, login, started] of rows) {
      await s.sessions.create({
        id,
        user,
        node,
        login,
        started,
        kind: "web",
        cols: 80,
        rows: 24,
        recordingPath: `r/${id}`,
        proxyId: null,
      });
    }
    const ids = async (filter: Parameters<typeof s.sessions.list>[0]) =>
      (await s.sessions.list(filter)).map((x) => x.id);
    assert.deepEqual(await ids({ node: "saturn" }), ["d", "c", "a"]);
    assert.deepEqual(await ids({ login: "deploy" }), ["d", "c"]);
    assert.deepEqual(await ids({ user: "kim", node: "saturn", login: "root" }), ["a"]);
    assert.deepEqual(await ids({ since: T0 + MIN }), ["d", "c", "b"]);
    assert.deepEqual(await ids({ until: T0 + MIN }), ["a"]);
    assert.deepEqual(await ids({ since: T0 + MIN, until: T0 + 3 * MIN }), ["c", "b"]);
    assert.deepEqual(await ids({ limit: 2 }), ["d", "c"]);
    assert.deepEqual(await ids({ limit: 2, offset: 2 }), ["b", "a"]);
    assert.deepEqual(await ids({ limit: 2, offset: 4 }), []);
    assert.deepEqual(await ids({ offset: -3, limit: 1 }), ["d"]);
  },
);

contract("audit.query() filters by outcome and pages with offset", async (open) => {
  const s = await open();
  for (let i = 0; i < 5; i++) {
    await s.audit.append({
      time: T0 + i,
      code: "user.login",
      user: "ann",
      remoteAddr: null,
      success: i % 2 === 0,
      fields: {},
    });
  }
  const times = async (q: Parameters<typeof s.audit.query>[0]) =>
    (await s.audit.query(q)).map((e) => e.time - T0);
  assert.deepEqual(await times({ success: true }), [0, 2, 4]);
  assert.deepEqual(await times({ success: false }), [1, 3]);
  assert.deepEqual(await times({ order: "desc", limit: 2 }), [4, 3]);
  assert.deepEqual(await times({ order: "desc", limit: 2, offset: 2 }), [2, 1]);
  assert.deepEqual(await times({ order: "desc", success: true, limit: 1, offset: 1 }), [2]);
});

contract("audit: append and query by time, code prefix, user, limit and order", async (open) => {
  const s = await open();
  const ev = (time: number, code: string, u: string | null, success = true) =>
    s.audit.append({
      time,
      code,
      user: u,
      remoteAddr: "127.0.0.1",
      success,
      fields: { n: time },
    });
  const first = await ev(T0, "user.login", "ann", false);
  assert.deepEqual(first, {
    id: first.id,
    time: T0,
    code: "user.login",
    user: "ann",
    remoteAddr: "127.0.0.1",
    success: false,
    fields: { n: T0 },
  });
  await ev(T0 + 1, "user.login", "ben");
  await ev(T0 + 2, "session.start", "ann");
  await ev(T0 + 3, "users.create", null);
  const codes = async (q: Parameters<typeof s.audit.query>[0]) =>
    (await s.audit.query(q)).map((e) => `${e.code}@${e.time - T0}`);
  assert.deepEqual(await codes({ codePrefix: "user." }), ["user.login@0", "user.login@1"]);
  assert.deepEqual(await codes({ user: "ann" }), ["user.login@0", "session.start@2"]);
  assert.deepEqual(await codes({ since: T0 + 2 }), ["session.start@2", "users.create@3"]);
  assert.deepEqual(await codes({ until: T0 + 1 }), ["user.login@0"]);
  assert.deepEqual(await codes({ order: "desc", limit: 2 }), [
    "users.create@3",
    "session.start@2",
  ]);
  assert.equal((await s.audit.query()).length, 4);
});

contract("users.setAdminLock() sets and clears a lock with its reason", async (open) => {
  const s = await open();
  await s.users.create(user("bob"));
  await s.users.setAdminLock("bob", T0 + 1000, "offboarding", T0);
  const locked = (await s.users.get("bob"))!;
  assert.equal(locked.adminLockUntil, T0 + 1000);
  assert.equal(locked.adminLockReason, "offboarding");
  assert.equal(locked.lockedUntil, null, "a lockout after failed logins is separate");
  await s.users.setAdminLock("bob", null, "ignored", T0);
  const unlocked = (await s.users.get("bob"))!;
  assert.equal(unlocked.adminLockUntil, null);
  assert.equal(unlocked.adminLockReason, null);
  await rejectsKind(s.users.setAdminLock("nobody", T0, null, T0), "not_found");
});

contract("revocations: appended in order, read after an id, pruned by age", async (open) => {
  const s = await open();
  assert.equal(await s.revocations.lastId(), 0);
  const first = await s.revocations.add({
    user: "bob",
    webSessionHash: null,
    sessionId: "3f2c9a1e-0000-4000-8000-000000000000",
    reason: "access revoked",
    created: T0,
  });
  const second = await s.revocations.add({
    user: "alice",
    webSessionHash: hashSecret("web-session"),
    sessionId: null,
    reason: "signed out",
    created: T0 + 10,
  });
  assert.ok(second.id > first.id);
  assert.equal(await s.revocations.lastId(), second.id);
  assert.deepEqual(await s.revocations.since(0), [first, second]);
  assert.deepEqual(await s.revocations.since(first.id), [second]);
  assert.equal(second.webSessionHash, hashSecret("web-session"));
  assert.equal(await s.revocations.deleteBefore(T0 + 5), 1);
  assert.deepEqual(await s.revocations.since(0), [second]);
});

contract(
  "proxies: upsert registers and refreshes, list shows the most recent first",
  async (open) => {
    const s = await open();
    const a = {
      id: "a",
      publicAddr: "a.example:3080",
      sshPublicAddr: "a.example:3023",
      peerAddr: "a.example:3021",
    };
    await s.proxies.upsert({ ...a, lastSeen: T0 });
    await s.proxies.upsert({
      id: "b",
      publicAddr: "b:3080",
      sshPublicAddr: "b:3023",
      peerAddr: null,
      lastSeen: T0 + 1,
    });
    assert.deepEqual((await s.proxies.list()).map((p) => p.id), ["b", "a"]);
    await s.proxies.upsert({ ...a, publicAddr: "proxy.example:443", lastSeen: T0 + 2 });
    const [first] = await s.proxies.list();
    assert.deepEqual(first, { ...a, publicAddr: "proxy.example:443", lastSeen: T0 + 2 });
    assert.equal((await s.proxies.list()).length, 2);
    // A heartbeat moves last_seen forward, never back; an unknown proxy is not added.
    assert.equal(await s.proxies.touch("b", T0 + 5), true);
    assert.equal(await s.proxies.touch("b", T0 + 3), true);
    assert.equal((await s.proxies.get("b"))?.lastSeen, T0 + 5);
    assert.equal(await s.proxies.touch("nobody", T0 + 5), false);
    assert.equal((await s.proxies.list()).length, 2);
  },
);

Deno.test("hashSecret() is a stable hex SHA-256", () => {
  assert.equal(
    hashSecret("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

contract(
  "users.setPendingTotp() keeps an authenticator change until it is confirmed",
  async (open) => {
    const a = await open();
    const b = await open();
    await a.users.create(user("pat"));
    assert.equal((await a.users.get("pat"))?.pendingTotp, null);
    await a.users.setPendingTotp("pat", { secret: "NEWSECRET", expires: T0 + MIN });
    assert.deepEqual((await b.users.get("pat"))?.pendingTotp, {
      secret: "NEWSECRET",
      expires: T0 + MIN,
    });
    await b.users.setPendingTotp("pat", null);
    assert.equal((await a.users.get("pat"))?.pendingTotp, null);
    await rejectsKind(a.users.setPendingTotp("ghost", null), "not_found");
  },
);

contract("roles.replaceAll() makes the table exactly the given roles", async (open) => {
  const s = await open();
  const role = (name: string, logins: string[]) => ({ name, spec: { logins }, updated: T0 });
  await s.roles.replaceAll([role("ops", ["root"]), role("dev", ["dev"])]);
  assert.deepEqual(await s.roles.list(), [role("dev", ["dev"]), role("ops", ["root"])]);
  await s.roles.replaceAll([role("ops", ["admin"])]);
  assert.deepEqual(await s.roles.list(), [role("ops", ["admin"])]);
});

contract(
  "joinTokens: consumed once, never after expiry, listed and removed by prefix",
  async (open) => {
    const a = await open();
    const b = await open();
    const token = (n: string, expires = T0 + MIN) => ({
      tokenHash: hashSecret(n),
      kind: "proxy" as const,
      created: T0,
      expires,
    });
    await a.joinTokens.create(token("one"));
    await a.joinTokens.create(token("old", T0 - 1));
    assert.deepEqual((await a.joinTokens.list(T0)).map((t) => t.tokenHash), [hashSecret("one")]);
    const raced = await Promise.all([
      a.joinTokens.consume(hashSecret("one"), T0),
      b.joinTokens.consume(hashSecret("one"), T0),
    ]);
    assert.equal(raced.filter((t) => t !== null).length, 1, "exactly one caller wins");
    assert.equal(await a.joinTokens.consume(hashSecret("old"), T0), null, "expired");
    await a.joinTokens.create(token("two"));
    assert.equal(await a.joinTokens.deleteByPrefix(hashSecret("two").slice(0, 8)), 1);
  },
);

contract("transaction() commits, and rolls back what it wrote when it throws", async (open) => {
  const s = await open();
  await assert.rejects(
    s.transaction(async (tx) => {
      await tx.users.create(user("gina"));
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.equal(await s.users.get("gina"), null);
  await s.transaction(async (tx) => {
    await tx.users.create(user("gina"));
    await tx.users.update("gina", { logins: ["ops"] }, T0 + 1);
  });
  assert.deepEqual((await s.users.get("gina"))?.logins, ["ops"]);
});

contract(
  "recordings: appended in order, resent bytes skipped, gaps refused, streamed back",
  async (open) => {
    const a = await open();
    const b = await open();
    const id = "0b5b0d1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    const bytes = (text: string) => new TextEncoder().encode(text);
    const read = async (s: Store) => await new Response(await s.recordings.open(id)).text();
    await rejectsKind(a.recordings.open(id), "not_found");
    await rejectsKind(a.recordings.open("../etc/passwd"), "bad_request");
    assert.equal(await a.recordings.append(id, 0, bytes("hello ")), 6);
    // A proxy that resends what auth already has (its ack was lost) adds only the rest.
    assert.equal(await b.recordings.append(id, 0, bytes("hello world")), 11);
    assert.equal(await a.recordings.append(id, 11, bytes("")), 11);
    await rejectsKind(a.recordings.append(id, 20, bytes("gap")), "conflict");
    assert.equal(await read(b), "hello world");
    // Racing appends of the same bytes store them once.
    await Promise.all([
      a.recordings.append(id, 11, bytes("!!")),
      b.recordings.append(id, 11, bytes("!!")),
    ]);
    assert.equal(await read(a), "hello world!!");
    const big = new Uint8Array(3 << 20).map((_, i) => i % 251);
    let offset = 13;
    for (let at = 0; at < big.length; at += 512 << 10) {
      offset = await a.recordings.append(id, offset, big.subarray(at, at + (512 << 10)));
    }
    const all = new Uint8Array(await new Response(await b.recordings.open(id)).arrayBuffer());
    assert.equal(all.byteLength, 13 + big.byteLength);
    assert.deepEqual(all.subarray(13), big);
  },
);

contract(
  "recordings.open() reads from a byte offset, also inside an appended chunk",
  async (open) => {
    const s = await open();
    const id = "1c6c1e2f-2d3e-4f60-9bac-1d2e3f4a5b6c";
    const read = async (from?: number) =>
      await new Response(await s.recordings.open(id, from)).text();
    await s.recordings.append(id, 0, new TextEncoder().encode("hello "));
    await s.recordings.append(id, 6, new TextEncoder().encode("world"));
    assert.equal(await read(), "hello world");
    assert.equal(await read(3), "lo world");
    assert.equal(await read(6), "world");
    assert.equal(await read(11), "");
    await rejectsKind(s.recordings.open(id, -1), "bad_request");
  },
);

contract(
  "recordingIndex: grows in steps from where it ended, finds phrases newest first, per user",
  async (open) => {
    const a = await open();
    const b = await open();
    const session = (id: string, user: string) =>
      a.sessions.create({
        id,
        user,
        login: "root",
        node: "saturn",
        kind: "ssh",
        started: T0,
        cols: 80,
        rows: 24,
        recordingPath: `${id}.cast`,
        proxyId: null,
      });
    await session("s-kim", "kim");
    await session("s-lee", "lee");
    assert.equal(await a.recordingIndex.indexedBytes("s-kim"), 0);
    const kimText = {
      stream: "o" as const,
      text: "$ make build\nerror: disk full",
      times: [1, 2.5],
    };
    assert.equal(await a.recordingIndex.add("s-kim", 0, 100, [kimText]), true);
    // Another auth server that read the same bytes adds nothing.
    assert.equal(await b.recordingIndex.add("s-kim", 0, 100, [kimText]), false);
    assert.equal(await b.recordingIndex.indexedBytes("s-kim"), 100);
    assert.equal(await b.recordingIndex.add("s-kim", 50, 120, []), false);
    const leeText = { stream: "i" as const, text: "cat /etc/Disk-Full.log", times: [7] };
    assert.equal(await b.recordingIndex.add("s-lee", 0, 40, [leeText]), true);
    assert.equal(await a.recordingIndex.add("s-kim", 100, 150, []), true);
    assert.equal(await a.recordingIndex.indexedBytes("s-kim"), 150);

    const find = async (words: string[], user?: string) =>
      (await b.recordingIndex.search({ words, user })).map((m) => m.sessionId);
    assert.deepEqual(await find(["disk", "full"]), ["s-lee", "s-kim"]);
    assert.deepEqual(await find(["disk", "full"], "kim"), ["s-kim"]);
    // The last word may be the start of a longer one; the others are whole words, in order.
    assert.deepEqual(await find(["disk", "ful"]), ["s-lee", "s-kim"]);
    // A shorter one stands for itself only (as a prefix it would stand for too many words).
    assert.deepEqual(await find(["disk", "fu"]), []);
    assert.deepEqual(await find(["di", "full"]), []);
    assert.deepEqual(await find(["full", "disk"]), []);
    assert.deepEqual(await find(["etc", "disk"]), ["s-lee"]);
    assert.deepEqual(await find(["nothing"]), []);
    assert.deepEqual(await find([]), []);
    const [match] = await b.recordingIndex.search({ words: ["make"], limit: 1 });
    assert.deepEqual(match, { sessionId: "s-kim", ...kimText });
  },
);

contract("invites.listForUser() lists a user's invites, newest first", async (open) => {
  const s = await open();
  await s.users.create(user("lee"));
  const invite = (token: string, created: number) => ({
    tokenHash: hashSecret(token),
    user: "lee",
    kind: "signup" as const,
    expires: T0 + MIN,
    created,
  });
  await s.invites.create(invite("first", T0));
  await s.invites.create(invite("second", T0 + 1));
  await s.invites.consume(hashSecret("first"), T0 + 2);
  const listed = await s.invites.listForUser("lee");
  assert.deepEqual(listed.map((i) => [i.tokenHash, i.usedAt]), [
    [hashSecret("second"), null],
    [hashSecret("first"), T0 + 2],
  ]);
  assert.deepEqual(await s.invites.listForUser("nobody"), []);
});

contract("sessions.endLive() ends a live session once, whoever races", async (open) => {
  const a = await open();
  const b = await open();
  await a.sessions.create({
    id: "s-race",
    user: "u",
    login: "root",
    node: "n",
    kind: "ssh",
    started: T0,
    cols: 80,
    rows: 24,
    recordingPath: "s-race.cast",
    proxyId: "p1",
  });
  const results = await Promise.all([
    a.sessions.endLive("s-race", T0 + 1, null),
    b.sessions.endLive("s-race", T0 + 2, null),
  ]);
  assert.deepEqual(results.sort(), [false, true]);
  assert.equal(await a.sessions.endLive("s-race", T0 + 3, 0), false);
  assert.equal(await a.sessions.endLive("missing", T0, null), false);
});

contract(
  "requestNonces.use() accepts a nonce once while it lasts, racing callers included",
  async (open) => {
    const a = await open();
    const b = await open();
    const raced = await Promise.all([
      a.requestNonces.use("n1", T0 + MIN, T0),
      b.requestNonces.use("n1", T0 + MIN, T0),
    ]);
    assert.deepEqual(raced.sort(), [false, true]);
    assert.equal(await a.requestNonces.use("n2", T0 + MIN, T0), true);
    // Once its window is over it is forgotten (its timestamp is refused anyway).
    assert.equal(await b.requestNonces.use("n1", T0 + 3 * MIN, T0 + 2 * MIN), true);
  },
);

contract("authServers: each reports itself, listed most recently seen first", async (open) => {
  const s = await open();
  const server = (id: string, lastSeen: number) => ({
    id,
    addr: `0.0.0.0:${id.split(":")[1]}`,
    version: "1.0.0",
    started: T0,
    lastSeen,
  });
  await s.authServers.beat(server("a:3025", T0));
  await s.authServers.beat(server("b:3025", T0 + 1));
  assert.deepEqual((await s.authServers.list()).map((a) => a.id), ["b:3025", "a:3025"]);
  await s.authServers.beat({ ...server("a:3025", T0 + 2), version: "1.1.0" });
  const [first] = await s.authServers.list();
  assert.deepEqual(first, { ...server("a:3025", T0 + 2), version: "1.1.0" });
});

Deno.test("store contract on SQLite", async (t) => {
  for (const { name, run } of CONTRACT) {
    await t.step(
      name,
      () => withDir((dir) => withStores(() => Promise.resolve(SqliteStore.open(dir)), run)),
    );
  }
});

Deno.test("store contract on PostgreSQL", async (t) => {
  await using pg = await startPostgres();
  for (const { name, run } of CONTRACT) {
    await t.step(name, async () => {
      const url = await pg.createDatabase();
      await withStores(() => PostgresStore.open({ url }), run);
    });
  }
});
