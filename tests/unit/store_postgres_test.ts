/**
 * What only the PostgreSQL store does: migrating once when auth servers
 * start together, refusing a newer schema, waiting for and surviving a
 * database that goes away. The `Store` contract itself runs on both
 * backends in store_test.ts.
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { isKind } from "../../lib/errors.ts";
import { PostgresStore } from "../../lib/store/postgres.ts";
import { PG_MIGRATIONS } from "../../lib/store/postgres/migrations.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { freePort } from "../helpers/ports.ts";
import { join } from "node:path";
import { generateSelfSigned } from "../../lib/tls/certificate.ts";

Deno.test("PostgreSQL store: migrations, newer schemas, outages", async (t) => {
  await using pg = await startPostgres();

  await t.step("auth servers opening an empty database together migrate it once", async () => {
    const url = await pg.createDatabase();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStore.open({ url })),
    );
    try {
      for (const store of stores) assert.equal(store.schemaVersion, PG_MIGRATIONS.at(-1)!.version);
      const sql = postgres(url, { onnotice: () => {} });
      const rows = await sql`SELECT version FROM schema_version ORDER BY version`;
      await sql.end();
      assert.deepEqual(rows.map((r) => r.version), PG_MIGRATIONS.map((m) => m.version));
    } finally {
      for (const store of stores) await store.close();
    }
  });

  await t.step("a database written by a newer postern is refused with what to do", async () => {
    const url = await pg.createDatabase();
    await (await PostgresStore.open({ url })).close();
    const sql = postgres(url, { onnotice: () => {} });
    await sql`INSERT INTO schema_version (version, description, applied) VALUES (999, 'x', 0)`;
    await sql.end();
    await assert.rejects(
      PostgresStore.open({ url }),
      (e) => isKind(e, "conflict") && /newer than this postern.*upgrade postern/.test(e.message),
    );
  });

  await t.step(
    "a database nobody listens for is Unavailable, naming it without the password",
    async () => {
      const url = `postgres://postern:s3cret@127.0.0.1:${freePort()}/postern`;
      const waits: string[] = [];
      await assert.rejects(
        PostgresStore.open({ url, waitMs: 600, onWait: (message) => waits.push(message) }),
        (e) =>
          isKind(e, "unavailable") && /Cannot reach the PostgreSQL database at 127\.0\.0\.1/
            .test(e.message) &&
          !e.message.includes("s3cret"),
      );
      assert.ok(waits.length >= 1, "it waited and retried before giving up");
    },
  );

  await t.step("a missing database is a clear error at once", async () => {
    const url = `postgres://postgres@127.0.0.1:${pg.port}/no_such_db`;
    await assert.rejects(
      PostgresStore.open({ url }),
      (e) => isKind(e, "unavailable") && /does not exist.*createdb/.test(e.message),
    );
  });

  await t.step(
    "while the database is down calls fail Unavailable; then they work again",
    async () => {
      const url = await pg.createDatabase();
      const store = await PostgresStore.open({ url });
      try {
        await store.users.create({ name: "ann", roles: [], logins: [], created: 1 });
        await pg.kill();
        await assert.rejects(store.ping(), (e) => isKind(e, "unavailable"));
        await assert.rejects(store.users.get("ann"), (e) => isKind(e, "unavailable"));
        await pg.start();
        assert.equal((await store.users.get("ann"))?.name, "ann");
        await store.ping();
      } finally {
        await store.close();
      }
    },
  );
});

Deno.test("PostgreSQL store over TLS: verify-full with storage.ca_file, a wrong CA refused", async () => {
  const server = await generateSelfSigned({ dns: ["localhost"], ips: ["127.0.0.1"] });
  const other = await generateSelfSigned({ dns: ["localhost"], ips: ["127.0.0.1"] });
  await using pg = await startPostgres({ tls: server });
  const dir = await Deno.makeTempDir({ prefix: "postern-pg-tls-" });
  const caFile = join(dir, "ca.pem");
  const wrongCa = join(dir, "wrong.pem");
  await Deno.writeTextFile(caFile, server.cert);
  await Deno.writeTextFile(wrongCa, other.cert);
  const url = (await pg.createDatabase()).replace(/$/, "?sslmode=verify-full");
  const store = await PostgresStore.open({ url, caFile });
  try {
    await store.ping();
    const sql = postgres(url.replace("?sslmode=verify-full", ""), { onnotice: () => {} });
    const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_stat_ssl WHERE ssl`;
    await sql.end();
    assert.ok(n >= 1, "postern's connections use TLS");
  } finally {
    await store.close();
  }
  await assert.rejects(
    PostgresStore.open({ url, caFile: wrongCa, waitMs: 0 }),
    (e) => isKind(e, "unavailable") && /does not trust.*storage\.ca_file/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
