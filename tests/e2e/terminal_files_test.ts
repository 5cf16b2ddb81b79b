/**
 * File transfer in the browser terminal (issue #16), in a real Chromium
 * against a real `postern start` and `sshd` (the node shares this machine's
 * file system, so the test reads what landed there): a 5 MiB upload to the
 * shell's current directory and a 5 MiB download arrive byte-identical,
 * with progress and `sftp.*` audit events; a file over the configured limit
 * is refused with the reason; a role without `file_transfer` sees no Files
 * button and is refused by the API. Screenshots land in
 * `test-output/screenshots/files-*.png`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { eventually } from "../helpers/browser.ts";
import { waitForAudit } from "../helpers/gateway.ts";
import {
  BROWSER_TEST,
  openTerminal,
  pageFetch,
  startWebEnv,
  terminalText,
  typeInTerminal,
} from "../helpers/web_env.ts";

/** Continues the proxy section of the test config, then adds a role without file transfer. */
const EXTRA_CONFIG = `  web_file_transfer_limit: 6mb
roles:
  - name: no-files
    logins: [root]
    node_labels: { "*": "*" }
`;

const FIVE_MIB = 5 << 20;

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

/** Generous waits: the machine may be busy. */
const WAIT = { timeout: 30_000 };

Deno.test({
  name:
    "terminal: files upload to the shell's directory and download from the node byte-identical, within the limit, audited, only with file_transfer",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("files", { extraConfig: EXTRA_CONFIG });
  const [alice, carol] = await Promise.all([
    env.cluster.createUser("alice", { logins: ["root"] }),
    env.cluster.createUser("carol", { roles: ["no-files"], logins: ["root"] }),
  ]);
  const dir = await Deno.makeTempDir({ prefix: "postern-web-files-" });
  try {
    const page = await env.signIn(alice);
    await openTerminal(env, page, "root");
    // The shell reports its directory the way shells set up for it do (OSC 7).
    await typeInTerminal(
      page,
      `cd ${dir} && printf '\\033]7;file://%s%s\\007' "$(hostname)" "$PWD" && echo now-in-dir`,
    );
    await eventually(async () => assert.match(await terminalText(page), /^now-in-dir/m), {
      timeout: 30_000,
    });
    await page.getByRole("button", { name: "Files" }).click();
    const panel = page.getByRole("region", { name: "File transfer" });
    await eventually(
      async () => assert.equal(await panel.getByLabel("Upload to directory").inputValue(), dir),
      WAIT,
    );

    const uploaded = randomBytes(FIVE_MIB);
    await panel.getByLabel("Files", { exact: true }).setInputFiles({
      name: "upload.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.from(uploaded),
    });
    await panel.getByRole("button", { name: "Upload" }).click();
    const rows = panel.getByRole("list", { name: "Transfers" }).locator("li");
    const upload = rows.filter({ hasText: "upload.bin" });
    await upload.and(page.locator('[data-state="done"]')).waitFor({ timeout: 60_000 });
    assert.match(await upload.innerText(), new RegExp(`Uploaded to ${dir}/upload.bin`));
    assert.deepEqual(await Deno.readFile(join(dir, "upload.bin")), uploaded);
    await env.screenshot(page, "uploaded");

    const original = randomBytes(FIVE_MIB);
    await Deno.writeFile(join(dir, "download.bin"), original);
    await panel.getByLabel("File on the node").fill(join(dir, "download.bin"));
    const saved = page.waitForEvent("download", { timeout: 60_000 });
    await panel.getByRole("button", { name: "Download" }).click();
    const download = await saved;
    assert.equal(download.suggestedFilename(), "download.bin");
    assert.deepEqual(await Deno.readFile((await download.path())!), original);
    await rows.filter({ hasText: "download.bin" }).and(page.locator('[data-state="done"]'))
      .waitFor();

    // Over the limit: refused, with the reason, before anything moves.
    await Deno.writeFile(join(dir, "big.bin"), new Uint8Array(7 << 20));
    await panel.getByLabel("File on the node").fill(join(dir, "big.bin"));
    await panel.getByRole("button", { name: "Download" }).click();
    const refused = rows.filter({ hasText: "big.bin" });
    await refused.and(page.locator('[data-state="failed"]')).waitFor({ timeout: 30_000 });
    assert.match(
      await refused.innerText(),
      /is 7mb, more than the 6mb limit for browser transfers/,
    );
    await env.screenshot(page, "panel");
    await page.setViewportSize({ width: 400, height: 800 });
    await env.screenshot(page, "panel-400");

    const write = await waitForAudit(
      env.cluster,
      "sftp.write",
      (e) => e.user === "alice" && e.path === `${dir}/upload.bin`,
    );
    assert.equal(write.bytes_written, FIVE_MIB);
    const read = await waitForAudit(
      env.cluster,
      "sftp.read",
      (e) => e.user === "alice" && e.path === join(dir, "download.bin") && e.success,
    );
    assert.equal(read.bytes_read, FIVE_MIB);
    await waitForAudit(env.cluster, "sftp.end", (e) => e.bytes_down === FIVE_MIB);

    // A role without file_transfer: no Files button, and the API refuses.
    const carolPage = await env.signIn(carol);
    await openTerminal(env, carolPage, "root");
    assert.equal(await carolPage.getByRole("button", { name: "Files" }).count(), 0);
    const { cluster } = JSON.parse(
      (await pageFetch(carolPage, "/v1/webapi/sessions/current")).body,
    );
    const query = new URLSearchParams({ login: "root", path: join(dir, "download.bin") });
    const denied = await pageFetch(
      carolPage,
      `/v1/webapi/sites/${cluster}/nodes/saturn/files?${query}`,
      { csrf: true },
    );
    assert.equal(denied.status, 403);
    assert.match(denied.body, /do not allow file transfer/);
    const start = await waitForAudit(env.cluster, "sftp.start", (e) => e.user === "carol");
    assert.equal(start.success, false);
    assert.deepEqual(
      env.problems([
        { status: 413, path: /\/files$/ },
        { status: 403, path: /\/files$/ },
      ]),
      [],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
