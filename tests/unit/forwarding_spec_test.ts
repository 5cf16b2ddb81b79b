import assert from "node:assert/strict";
import { isKind } from "../../lib/errors.ts";
import { parseForwardSpec } from "../../lib/client/forwarding.ts";

Deno.test("parseForwardSpec() reads OpenSSH's [bind_address:]port:host:hostport", () => {
  const cases: [string, "-L" | "-R", ReturnType<typeof parseForwardSpec>][] = [
    ["8080:localhost:80", "-L", {
      bindAddress: "",
      bindPort: 8080,
      host: "localhost",
      hostPort: 80,
    }],
    ["0.0.0.0:8080:db:5432", "-L", {
      bindAddress: "0.0.0.0",
      bindPort: 8080,
      host: "db",
      hostPort: 5432,
    }],
    ["[::1]:8080:[fe80::1]:22", "-L", {
      bindAddress: "::1",
      bindPort: 8080,
      host: "fe80::1",
      hostPort: 22,
    }],
    ["0:127.0.0.1:3000", "-R", { bindAddress: "", bindPort: 0, host: "127.0.0.1", hostPort: 3000 }],
  ];
  for (const [text, flag, expected] of cases) {
    assert.deepEqual(parseForwardSpec(text, flag), expected, text);
  }
});

Deno.test("parseForwardSpec() refuses what OpenSSH would, naming the form", () => {
  const cases: [string, "-L" | "-R"][] = [
    ["8080", "-L"],
    ["8080:localhost", "-L"],
    ["0:localhost:80", "-L"],
    ["8080:localhost:0", "-R"],
    ["70000:localhost:80", "-L"],
    ["8080:localhost:http", "-L"],
    ["a:b:c:d:e", "-L"],
    ["8080::80", "-L"],
  ];
  for (const [text, flag] of cases) {
    assert.throws(
      () => parseForwardSpec(text, flag),
      (e) => isKind(e, "bad_request") && e.message.includes(`${flag} "${text}" is not`),
      text,
    );
  }
});
