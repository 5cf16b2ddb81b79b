/**
 * `/metrics` on the metrics listener (`metrics.listen_addr`): scraped over
 * plain HTTP while a real cluster serves logins and an SSH session, checked
 * with `promtool check metrics`, and absent from the public HTTPS port; on a
 * split cluster, each of the auth and proxy processes serves its own.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { proxyArgs, proxyJoinToken, startCluster } from "../helpers/cluster.ts";
import { identityOptions } from "../helpers/gateway.ts";
import { freePort } from "../helpers/ports.ts";
import { type PosternProcess, runPostern, startPosternProcess } from "../helpers/postern.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";

/** Scraped samples by `name{labels}` as written. */
type Samples = Map<string, number>;

async function scrape(port: number): Promise<{ text: string; samples: Samples }> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return { text, samples };
}

/** The value of one sample, 0 when absent. */
function sample(samples: Samples, series: string): number {
  return samples.get(series) ?? 0;
}

/** Runs `promtool check metrics` on `text`; fails the test with promtool's complaints. */
async function promtoolCheck(text: string): Promise<void> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  assert.equal(
    code,
    0,
    `promtool check metrics:\n${decoder.decode(stdout)}${decoder.decode(stderr)}`,
  );
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

Deno.test("postern start serves /metrics on metrics.listen_addr: logins, sessions, bytes, limits", async () => {
  const metricsPort = freePort();
  await using cluster = await startCluster({
    authConfig: "  max_login_attempts: 2",
    extraConfig: [
      "  max_failures_per_address: 3",
      "metrics:",
      `  listen_addr: 127.0.0.1:${metricsPort}`,
    ].join("\n"),
  });
  assert.match(
    cluster.postern.logs(),
    new RegExp(`metrics=http://127.0.0.1:${metricsPort}/metrics`),
  );
  const before = (await scrape(metricsPort)).samples;
  assert.equal(sample(before, 'postern_logins_total{method="ssh",outcome="success"}'), 0);
  assert.equal(sample(before, 'postern_connections_total{kind="ssh_session"}'), 0);

  const alice = await cluster.createUser("alice", { logins: ["root"] });
  const id = await cluster.login(alice);
  const session = await runSsh([
    ...defaultSshOptions,
    ...identityOptions(id),
    "-p",
    String(cluster.postern.sshPort),
    "root:saturn@127.0.0.1",
    "echo metered",
  ]);
  assert.equal(session.stdout, "metered\n", session.stderr);

  // Failed logins from one address: the second locks alice, the fourth is refused by the limit.
  for (let attempt = 1; attempt <= 4; attempt++) {
    const failed = await cluster.api("POST", "/v1/webapi/sessions", {
      user: "alice",
      password: "wrong password",
      second_factor_token: "000000",
    });
    assert.equal(failed.status, attempt < 4 ? 401 : 429, JSON.stringify(failed.body));
  }

  const after = (await scrape(metricsPort)).samples;
  const moved = (series: string) => sample(after, series) - sample(before, series);
  assert.equal(moved('postern_logins_total{method="certificate",outcome="success"}'), 1);
  assert.equal(moved('postern_logins_total{method="web",outcome="failure"}'), 3);
  assert.equal(moved('postern_logins_total{method="ssh",outcome="success"}'), 1);
  assert.equal(moved('postern_lockouts_total{cause="failed_logins"}'), 1);
  assert.equal(moved('postern_rate_limited_total{limit="failures_per_address"}'), 1);
  assert.equal(moved('postern_errors_total{protocol="https",reason="rate_limited"}'), 1);
  assert.equal(moved('postern_connections_total{kind="ssh_session"}'), 1);
  assert.equal(moved('postern_connections_total{kind="ssh"}'), 1);
  assert.ok(moved('postern_relayed_bytes_total{kind="ssh_session",direction="down"}') >= 8);
  assert.ok(moved("postern_recording_bytes_total") > 0);
  assert.ok(moved('postern_store_operation_duration_seconds_count{operation="query"}') > 0);
  assert.equal(sample(after, "postern_recording_write_errors_total"), 0);
  assert.ok(sample(after, "process_resident_memory_bytes") > 1_000_000);
  const tlsExpiry = sample(
    after,
    'postern_certificate_expiry_timestamp_seconds{certificate="tls"}',
  );
  assert.ok(tlsExpiry > Date.now() / 1000, `TLS certificate expiry ${tlsExpiry}`);
  assert.ok(after.has("postern_event_loop_lag_seconds"));
  // The session's gauge falls back once the session has ended.
  await eventually(
    async () =>
      sample(
        (await scrape(metricsPort)).samples,
        'postern_connections_active{kind="ssh_session"}',
      ) ===
        0,
    "the ssh_session gauge to fall back to 0",
  );
  // No user name anywhere in the labels.
  const { text } = await scrape(metricsPort);
  assert.doesNotMatch(text, /alice/);
  await promtoolCheck(text);

  const onHttps = await cluster.api("GET", "/metrics");
  assert.equal(onHttps.status, 404);
  assert.doesNotMatch(JSON.stringify(onHttps.body), /# TYPE/);
});

Deno.test("an auth-only and a proxy-only process each serve their own /metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "postern-metrics-" });
  const [authMetrics, proxyMetrics] = [freePort(), freePort()];
  const started: PosternProcess[] = [];
  try {
    const authServer = await startPosternProcess({
      dataDir: join(dir, "auth"),
      args: ["--roles", "auth"],
      extraConfig: `metrics:\n  listen_addr: 127.0.0.1:${authMetrics}`,
    });
    started.push(authServer);
    const admin = (...args: string[]) =>
      runPostern([...args, "--config", authServer.configPath, "--data-dir", authServer.dataDir]);
    const proxy = await startPosternProcess({
      dataDir: join(dir, "proxy"),
      args: proxyArgs([authServer.authPort], await proxyJoinToken(admin)),
      extraConfig: `metrics:\n  listen_addr: 127.0.0.1:${proxyMetrics}`,
    });
    started.push(proxy);

    const http = await proxy.client();
    const refused = await fetch(`${proxy.url}/v1/webapi/sessions`, {
      method: "POST",
      client: http,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "nobody", password: "wrong", second_factor_token: "000000" }),
    });
    await refused.body?.cancel();
    http.close();
    assert.equal(refused.status, 401);

    const onAuth = await scrape(authMetrics);
    assert.equal(sample(onAuth.samples, 'postern_logins_total{method="web",outcome="failure"}'), 1);
    await promtoolCheck(onAuth.text);

    const onProxy = await scrape(proxyMetrics);
    const calls = 'postern_auth_api_request_duration_seconds_count{call="createWebSession"}';
    assert.equal(sample(onProxy.samples, calls), 1);
    assert.equal(
      sample(
        onProxy.samples,
        'postern_auth_api_errors_total{call="createWebSession",reason="unauthenticated"}',
      ),
      1,
    );
    // The proxy's logins happen in auth: its own login counters stay at 0.
    assert.equal(
      sample(onProxy.samples, 'postern_logins_total{method="web",outcome="failure"}'),
      0,
    );
    const identityExpiry = sample(
      onProxy.samples,
      'postern_certificate_expiry_timestamp_seconds{certificate="identity"}',
    );
    assert.ok(identityExpiry > Date.now() / 1000, `identity expiry ${identityExpiry}`);
    await promtoolCheck(onProxy.text);
  } finally {
    await Promise.all(started.map((process) => process.stop()));
  }
});
