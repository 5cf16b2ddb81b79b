import assert from "node:assert/strict";
import { configReference, parseConfig } from "../../lib/config/config.ts";
import {
  ConfigError,
  formatBytes,
  formatDuration,
  parseBytes,
  parseDuration,
  parseHostPort,
} from "../../lib/config/schema.ts";
import { ROOT } from "../helpers/postern.ts";
import { join } from "node:path";

Deno.test("parseConfig() applies every default to an empty document", () => {
  const config = parseConfig("");
  assert.equal(config.proxy.web_listen_addr, "0.0.0.0:3080");
  assert.equal(config.proxy.ssh_listen_addr, "0.0.0.0:3023");
  assert.equal(config.auth.second_factor, "otp");
  assert.equal(config.auth.max_login_attempts, 5);
  assert.equal(config.auth.lockout_duration, 20 * 60_000);
  assert.equal(config.proxy.dial_timeout, 10_000);
  assert.equal(config.log.format, "text");
  assert.deepEqual(config.roles, []);
});

Deno.test("parseConfig() reads roles and nodes", () => {
  const config = parseConfig(`
roles:
  - name: dba
    logins: [postgres, "{{internal.logins}}"]
    node_labels: { team: db }
    max_session_ttl: 8h
    permissions: [sessions.join]
  - name: tunnels
    port_forwarding: true
    file_transfer: true
    agent_forwarding: true
nodes:
  - name: saturn
    addr: 10.0.0.5:22
    labels: { env: prod }
`);
  assert.deepEqual(config.roles[0], {
    name: "dba",
    logins: ["postgres", "{{internal.logins}}"],
    node_labels: { team: "db" },
    max_session_ttl: 8 * 3_600_000,
    permissions: ["sessions.join"],
    port_forwarding: false,
    file_transfer: false,
    agent_forwarding: false,
    require_session_mfa: false,
  });
  assert.equal(config.roles[1].port_forwarding, true);
  assert.equal(config.roles[1].file_transfer, true);
  assert.equal(config.roles[1].agent_forwarding, true);
  assert.equal(config.nodes[0].addr, "10.0.0.5:22");
  assert.equal(config.nodes[0].require_host_cert, false);
});

const badConfigs: [string, string, RegExp][] = [
  [
    "listen address",
    "proxy:\n  web_listen_addr: 3080x",
    /^proxy\.web_listen_addr: "3080x" is not host:port$/,
  ],
  ["unknown top-level field", "proxie: {}", /^proxie: unknown field \(known fields: cluster_name/],
  [
    "unknown nested field (typo)",
    "auth:\n  second_facter: otp",
    /^auth\.second_facter: unknown field/,
  ],
  [
    "enum",
    "auth:\n  second_factor: sms",
    /^auth\.second_factor: "sms" is not one of otp, webauthn, on, optional, off$/,
  ],
  [
    "passwordless without WebAuthn",
    "auth:\n  passwordless: true",
    /^auth\.passwordless: needs auth\.second_factor webauthn, on or optional \(not otp\)/,
  ],
  [
    "duration",
    "auth:\n  lockout_duration: soon",
    /^auth\.lockout_duration: "soon" is not a duration like 30s/,
  ],
  [
    "integer range",
    "auth:\n  max_login_attempts: 0",
    /^auth\.max_login_attempts: 0 is not an integer from 1 to 100$/,
  ],
  [
    "boolean",
    "recording:\n  record_input: yes please",
    /^recording\.record_input: "yes please" is not true or false$/,
  ],
  ["section not a map", "proxy: 42", /^proxy: 42 is not a map$/],
  ["list expected", "roles: dba", /^roles: "dba" is not a list$/],
  ["role without name", "roles:\n  - logins: [root]", /^roles\[0\]\.name: is required$/],
  [
    "bad permission",
    "roles:\n  - name: x\n    permissions: [root]",
    /^roles\[0\]\.permissions\[0\]: "root" is not one of users, nodes/,
  ],
  [
    "bad login",
    'roles:\n  - name: x\n    logins: ["Bad Login"]',
    /^roles\[0\]\.logins\[0\]: "Bad Login" is not a Unix login name/,
  ],
  ["node without addr", "nodes:\n  - name: saturn", /^nodes\[0\]\.addr: is required$/],
  [
    "node bad addr",
    "nodes:\n  - name: saturn\n    addr: saturn",
    /^nodes\[0\]\.addr: "saturn" is not host:port$/,
  ],
  [
    "duplicate node",
    'nodes:\n  - {name: a, addr: "h:22"}\n  - {name: a, addr: "h:23"}',
    /^nodes\[1\]\.name: "a" is declared twice$/,
  ],
  ["cert without key", "tls:\n  cert_file: /etc/cert.pem", /^tls\.key_file: is required when/],
  [
    "public addr",
    "proxy:\n  public_addr: example.com",
    /^proxy\.public_addr: "example\.com" is not host:port$/,
  ],
  ["invalid YAML", "proxy: [unclosed", /^\(file\): is not valid YAML/],
  ["cluster name", 'cluster_name: "has space"', /^cluster_name: "has space" is not a name/],
  [
    "recording size",
    "recording:\n  max_bytes_per_session: 10 parsecs",
    /^recording\.max_bytes_per_session: "10 parsecs" is not a size like 512kb/,
  ],
  [
    "negative grace time",
    "proxy:\n  login_grace_time: -5s",
    /^proxy\.login_grace_time: "-5s" is not a duration/,
  ],
  [
    "port out of range",
    'proxy:\n  ssh_listen_addr: "0.0.0.0:70000"',
    /^proxy\.ssh_listen_addr: "0\.0\.0\.0:70000" is not host:port$/,
  ],
];

for (const [name, yaml, message] of badConfigs) {
  Deno.test(`parseConfig() rejects ${name} naming the field`, () => {
    assert.throws(() => parseConfig(yaml), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
      assert.match(error.message, message);
      return true;
    });
  });
}

Deno.test("parseDuration() and formatDuration() round-trip", () => {
  const cases: [string, number][] = [["30s", 30_000], ["20m", 1_200_000], ["1h30m", 5_400_000], [
    "2d",
    172_800_000,
  ]];
  for (const [text, ms] of cases) {
    assert.equal(parseDuration(text), ms);
    assert.equal(formatDuration(ms), text);
  }
  assert.equal(parseDuration("10"), undefined);
  assert.equal(parseDuration("-5s"), undefined);
});

Deno.test("parseBytes() and formatBytes() read and write sizes", () => {
  const cases: [unknown, number | undefined][] = [
    ["512kb", 512 * 1024],
    ["100MB", 100 * 1024 * 1024],
    ["1gb", 1024 ** 3],
    ["0", 0],
    [4096, 4096],
    ["12 mb", 12 * 1024 * 1024],
    ["1.5gb", undefined],
    ["-1kb", undefined],
    [-1, undefined],
    ["lots", undefined],
  ];
  for (const [input, bytes] of cases) assert.equal(parseBytes(input), bytes, String(input));
  assert.equal(formatBytes(100 * 1024 * 1024), "100mb");
  assert.equal(formatBytes(1000), "1000b");
  assert.equal(formatBytes(0), "0b");
});

Deno.test("parseHostPort() accepts IPv4, names and bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:22"), { hostname: "127.0.0.1", port: 22 });
  assert.deepEqual(parseHostPort("[::1]:3023"), { hostname: "::1", port: 3023 });
  assert.deepEqual(parseHostPort(":3080"), { hostname: "0.0.0.0", port: 3080 });
  assert.equal(parseHostPort("host"), undefined);
  assert.equal(parseHostPort("host:99999"), undefined);
});

Deno.test("README configuration reference matches the schema", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  assert.ok(
    readme.includes(configReference()),
    "README.md's configuration table is stale: run `deno run -A scripts/config_reference.ts`",
  );
});
