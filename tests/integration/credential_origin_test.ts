/**
 * Credential endpoints against cross-site requests, from the outside (curl
 * sending what a browser would): a body that is not `application/json` and a
 * foreign `Origin` are refused before any credential is checked, so a
 * cross-site form can neither log a victim in nor lock them out; the proxy's
 * own Origin and clients without one (the CLI) still log in.
 */

import assert from "node:assert/strict";
import { startCluster } from "../helpers/cluster.ts";
import { auditEvents } from "../helpers/gateway.ts";

Deno.test("credential endpoints refuse non-JSON bodies and foreign origins", async () => {
  await using cluster = await startCluster();
  const alice = await cluster.createUser("alice");
  const own = `https://127.0.0.1:${cluster.postern.webPort}`;
  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const output = await new Deno.Command("curl", {
      args: [
        "-sk",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        ...Object.entries(headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]),
        "--data-binary",
        body,
        `${cluster.postern.url}${path}`,
      ],
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    return Number(text.slice(text.lastIndexOf("\n") + 1));
  };
  const wrong = JSON.stringify({ user: "alice", password: "wrong password" });

  // What a cross-site HTML form can send: text/plain (or form types), with its Origin.
  for (let i = 0; i < 8; i++) {
    assert.equal(
      await post("/v1/webapi/sessions", wrong, {
        "content-type": "text/plain",
        origin: "https://evil.example",
      }),
      403,
    );
    assert.equal(
      await post("/v1/webapi/sessions", wrong, { "content-type": "text/plain" }),
      400,
    );
    // A script sending JSON cross-site (it would need a preflight the proxy never grants).
    assert.equal(
      await post("/v1/webapi/ssh/certs", wrong, {
        "content-type": "application/json",
        origin: "https://evil.example",
      }),
      403,
    );
  }
  assert.equal(
    await post("/v1/webapi/sessions", wrong, {
      "content-type": "application/json",
      origin: "null",
    }),
    403,
  );
  const checked = (await auditEvents(cluster, "user.login")).filter((e) => e.user === "alice");
  assert.deepEqual(checked, [], "no credential was checked for a cross-site request");

  // The proxy's own pages and the CLI (no Origin) still log in: alice is not locked.
  const body = JSON.stringify({
    user: "alice",
    password: alice.password,
    second_factor_token: await cluster.otp(alice),
  });
  assert.equal(
    await post("/v1/webapi/sessions", body, { "content-type": "application/json", origin: own }),
    200,
  );
  await cluster.login(alice);
});
