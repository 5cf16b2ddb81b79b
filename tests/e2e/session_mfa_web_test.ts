/**
 * Per-session second factor in the web terminal: a user whose role has
 * `require_session_mfa` is asked for an authenticator code before the
 * terminal opens; within the window the next terminal opens at once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { BROWSER_TEST, startWebEnv, waitForTerminalState } from "../helpers/web_env.ts";

Deno.test(
  "require_session_mfa: the web terminal asks for a code first, then not within the window",
  BROWSER_TEST,
  async () => {
    await using env = await startWebEnv("session-mfa", {
      extraConfig: [
        "roles:",
        "  - name: guarded",
        '    logins: ["{{internal.logins}}"]',
        '    node_labels: {"*": "*"}',
        "    require_session_mfa: true",
      ].join("\n"),
    });
    const user = await env.cluster.createUser("pia", { roles: ["guarded"], logins: ["root"] });
    const page = await env.signIn(user);
    const terminal = `${env.base}/web/terminal/new?node=saturn&login=root`;
    await page.goto(terminal);
    await page.getByRole("heading", { name: "Confirm it is you" }).waitFor();
    await page.getByLabel("Authenticator code").fill(await env.cluster.otp(user));
    await page.getByRole("button", { name: "Continue" }).click();
    await waitForTerminalState(page, "connected");
    await page.goto(terminal);
    await waitForTerminalState(page, "connected");
    assert.equal(await page.getByRole("heading", { name: "Confirm it is you" }).count(), 0);
    assert.deepEqual(env.problems(), []);
  },
);
