import assert from "node:assert/strict";
import { join } from "node:path";
import { AuditLog } from "../../lib/auth/audit.ts";
import { createLogger } from "../../lib/log.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";

Deno.test("AuditLog keeps writing audit.jsonl after a failed write, and says why it failed", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "postern-audit-" });
  const store = SqliteStore.open(dataDir);
  const errors: string[] = [];
  const log = createLogger({ level: "error", write: (line) => errors.push(line) });
  const path = join(dataDir, "audit.jsonl");
  // A directory where the file should be: every open and write fails.
  await Deno.mkdir(path);
  const audit = new AuditLog(store, dataDir, log);
  try {
    await audit.emit({ code: "user.login", user: "alice" });
    assert.match(audit.fileFailure ?? "", /cannot write .*audit\.jsonl/);
    assert.equal(errors.length, 1, "the failure is logged");
    assert.equal((await audit.query({})).length, 1, "the store still has the event");

    await Deno.remove(path);
    await audit.emit({ code: "user.logout", user: "alice" });
    assert.equal(audit.fileFailure, null);
    const lines = (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.code), ["user.logout"]);
    assert.equal(lines[0].id, 2);
  } finally {
    await audit.close();
    store.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
