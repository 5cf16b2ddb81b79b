/**
 * An oversized request body gets 413 with the JSON error on both protocols
 * curl and browsers speak (HTTP/2 by ALPN, and HTTP/1.1), not a stream reset:
 * the proxy reads the rest of the body (up to a bound) before answering.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startPosternProcess } from "../helpers/postern.ts";

Deno.test("an oversized body gets 413 over HTTP/2 and HTTP/1.1", async () => {
  await using postern = await startPosternProcess();
  const body = join(postern.dataDir, "..", `big-${postern.webPort}.json`);
  await Deno.writeTextFile(body, JSON.stringify({ user: "x", pub_key: "a".repeat(200_000) }));
  for (const protocol of ["--http2", "--http1.1"]) {
    const result = await new Deno.Command("curl", {
      args: [
        "-sk",
        protocol,
        "-o",
        "-",
        "-w",
        "\n%{http_code} %{http_version}",
        "-H",
        "content-type: application/json",
        "--data-binary",
        `@${body}`,
        `${postern.url}/v1/webapi/ssh/certs`,
      ],
    }).output();
    const out = new TextDecoder().decode(result.stdout);
    const [json, status] = out.split("\n");
    assert.equal(status, protocol === "--http2" ? "413 2" : "413 1.1", out);
    assert.equal(JSON.parse(json).error.kind, "too_large");
  }
});
