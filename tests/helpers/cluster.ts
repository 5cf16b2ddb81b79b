/**
 * A whole test cluster from the outside: a real `postern start` process, a
 * real `sshd` node ("saturn") trusting the postern user CA, and helpers to
 * create users (invite → password + TOTP through the API), log in for a
 * certificate, or open a web session.
 *
 * @module
 */

import { join } from "node:path";
import { totpCode, totpStep } from "../../lib/auth/totp.ts";
import {
  type PosternProcess,
  runPostern,
  type StartOptions,
  startPosternProcess,
} from "./postern.ts";
import { newKeyPair, type Sshd, startSshd } from "./sshd.ts";
import { type Haproxy, startHaproxy } from "./haproxy.ts";
import { freePort } from "./ports.ts";

/** A user created through the invite flow. */
export interface TestUser {
  name: string;
  password: string;
  totpSecret: string;
}

/** A key pair with a postern certificate, as files OpenSSH can use. */
export interface TestIdentity {
  keyPath: string;
  certPath: string;
  cert: string;
  hostCa: string[];
}

/** A running cluster. */
export interface TestCluster extends AsyncDisposable {
  /** The proxy users reach (proxy B in the split layout). */
  postern: PosternProcess;
  /** Split layout: the (first) `--roles auth` process. */
  authServer?: PosternProcess;
  /** Split layout: every `--roles auth` process (several share PostgreSQL behind haproxy). */
  authServers: PosternProcess[];
  /** Split layout: proxies A, B, ... (`--roles proxy`), each with its own data dir. */
  proxies: PosternProcess[];
  sshd: Sshd;
  /** Temp dir for keys and configs of this test. */
  dir: string;
  http: Deno.HttpClient;
  /** Calls the JSON API; returns status and parsed body. */
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    // deno-lint-ignore no-explicit-any
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /** Runs `postern <args>` against the cluster's data dir and config. */
  admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Creates a user through `users add` and the invite API. */
  createUser(name: string, options?: { roles?: string[]; logins?: string[] }): Promise<TestUser>;
  /** A TOTP code not used before for this user (waits for the next step when needed). */
  otp(user: TestUser): Promise<string>;
  /** `POST /v1/webapi/ssh/certs` with a fresh ed25519 key. */
  login(user: TestUser, ttl?: string): Promise<TestIdentity>;
  /**
   * Runs `postern login` as `user` with POSTERN_HOME `home`, answering yes to
   * the proxy fingerprint prompt; `args` are added to the command line.
   * `proxy` is the proxy logged in to (default: the one users reach).
   */
  cliLogin(
    user: TestUser,
    home: string,
    args?: string[],
    proxy?: PosternProcess,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `POST /v1/webapi/sessions`; returns the cookie header and CSRF token. */
  // deno-lint-ignore no-explicit-any
  webLogin(user: TestUser): Promise<{ cookie: string; csrf: string; body: any }>;
  stop(): Promise<void>;
}

/** Options for {@linkcode startCluster}. */
export interface ClusterOptions extends StartOptions {
  /** Node name. @default "saturn" */
  nodeName?: string;
  /** Labels of the node. */
  labels?: Record<string, string>;
  /**
   * Production layout: one `--roles auth` process and two `--roles proxy`
   * processes joined with tokens, each with its own data dir; users reach
   * the last proxy (B).
   */
  split?: boolean;
  /**
   * Split layout: this many `--roles auth` processes, which must share a
   * PostgreSQL `storage` (in `extraConfig`); with more than one, the proxies
   * reach them through haproxy. @default 1
   */
  authServerCount?: number;
  /** Split layout: how many proxies. @default 2 */
  proxyCount?: number;
}

/** Runs `postern tokens add --type proxy` and returns the token and CA pin it printed. */
export async function proxyJoinToken(
  admin: (...args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  ...extra: string[]
): Promise<{ token: string; caPin: string }> {
  const made = await admin("tokens", "add", "--type", "proxy", ...extra);
  const token = made.stdout.match(/--token (\S+)/)?.[1];
  const caPin = made.stdout.match(/--ca-pin (sha256:[0-9a-f]{64})/)?.[1];
  if (made.code !== 0 || !token || !caPin) {
    throw new Error(`tokens add failed: ${made.stdout}${made.stderr}`);
  }
  return { token, caPin };
}

/** `postern start` arguments of a proxy joining the auth servers at `authPorts` (after the first start: no token needed). */
export function proxyArgs(
  authPorts: number[],
  join?: { token: string; caPin: string },
): string[] {
  return [
    "--roles",
    "proxy",
    ...authPorts.flatMap((port) => ["--auth-server", `127.0.0.1:${port}`]),
    ...(join ? ["--token", join.token, "--ca-pin", join.caPin] : []),
  ];
}

/**
 * Starts the `--roles auth` processes (haproxy in front of several) and
 * `proxyCount` proxies joined to them.
 */
async function startSplit(dir: string, options: ClusterOptions) {
  const count = options.authServerCount ?? 1;
  const authServers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startPosternProcess({
        ...options,
        dataDir: join(dir, i === 0 ? "auth" : `auth-${i + 1}`),
        args: ["--roles", "auth"],
      })),
  );
  const [authServer] = authServers;
  const base = ["--config", authServer.configPath, "--data-dir", authServer.dataDir];
  const admin = (...args: string[]) => runPostern([...args, ...base]);
  const proxies: PosternProcess[] = [];
  let authBalancer: Haproxy | undefined;
  try {
    if (count > 1) {
      authBalancer = await startHaproxy({
        auth: { port: freePort(), backends: authServers.map((a) => a.authPort), check: true },
      });
    }
    const authPort = authBalancer?.ports.auth ?? authServer.authPort;
    for (let i = 0; i < (options.proxyCount ?? 2); i++) {
      const name = `proxy-${String.fromCharCode(97 + i)}`;
      proxies.push(
        await startPosternProcess({
          ...options,
          dataDir: join(dir, name),
          args: proxyArgs([authPort], await proxyJoinToken(admin)),
        }),
      );
    }
  } catch (error) {
    await Promise.all([...authServers, ...proxies].map((p) => p.stop()));
    await authBalancer?.stop();
    throw error;
  }
  return { authServers, proxies, admin, authBalancer };
}

const PASSWORD = "correct horse battery staple";

/** Starts postern + sshd and registers the node. */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const dir = await Deno.makeTempDir({ prefix: "postern-cluster-" });
  let postern: PosternProcess;
  let authServers: PosternProcess[] = [];
  let authBalancer: Haproxy | undefined;
  let proxies: PosternProcess[] = [];
  let admin: (...args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  if (options.split) {
    ({ authServers, proxies, admin, authBalancer } = await startSplit(dir, options));
    postern = proxies.at(-1)!;
  } else {
    postern = await startPosternProcess({ ...options, dataDir: join(dir, "data") });
    const base = ["--config", postern.configPath, "--data-dir", postern.dataDir];
    admin = (...args: string[]) => runPostern([...args, ...base]);
  }
  const userCa = (await admin("ca", "export", "--type", "user")).stdout.trim();
  const sshd = await startSshd({ trustedUserCAKeys: userCa });
  const nodeName = options.nodeName ?? "saturn";
  const labels = Object.entries(options.labels ?? { env: "test" }).map(([k, v]) => `${k}=${v}`)
    .join(",");
  const added = await admin("nodes", "add", nodeName, `127.0.0.1:${sshd.port}`, "--labels", labels);
  if (added.code !== 0) throw new Error(`nodes add failed: ${added.stderr}`);
  const http = await postern.client();
  const lastStep = new Map<string, number>();

  const api: TestCluster["api"] = async (method, path, body, headers = {}) => {
    const response = await fetch(`${postern.url}${path}`, {
      method,
      client: http,
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: response.status, body: parsed, headers: response.headers };
  };

  const otp = async (user: TestUser) => {
    for (;;) {
      const now = Date.now();
      const current = totpStep(now);
      const used = lastStep.get(user.name) ?? 0;
      // The previous step's code stays valid only until the current step ends:
      // near that boundary it would be refused by the time the server checks it.
      const previousStillSafe = (current + 1) * 30_000 - now > 5_000;
      for (const step of [current - 1, current, current + 1]) {
        if (step === current - 1 && !previousStillSafe) continue;
        if (step > used) {
          lastStep.set(user.name, step);
          return totpCode(user.totpSecret, step * 30_000);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };

  const createUser = async (name: string, opts: { roles?: string[]; logins?: string[] } = {}) => {
    const result = await admin(
      "users",
      "add",
      name,
      "--roles",
      (opts.roles ?? ["access"]).join(","),
      "--logins",
      (opts.logins ?? ["root"]).join(","),
    );
    const token = result.stdout.match(/\/web\/invite\/(\S+)/)?.[1];
    if (!token) throw new Error(`users add printed no invite: ${result.stdout}${result.stderr}`);
    const enrollment = await api("POST", `/v1/webapi/invites/${token}/totp`);
    const user = { name, password: PASSWORD, totpSecret: enrollment.body.secret as string };
    const done = await api("POST", `/v1/webapi/invites/${token}`, {
      password: PASSWORD,
      second_factor_token: await otp(user),
    });
    if (done.status !== 200) throw new Error(`invite failed: ${JSON.stringify(done.body)}`);
    return user;
  };

  let keys = 0;
  const login = async (user: TestUser, ttl?: string) => {
    const pair = await newKeyPair(dir, `${user.name}-${++keys}`);
    const response = await api("POST", "/v1/webapi/ssh/certs", {
      user: user.name,
      password: user.password,
      otp_token: await otp(user),
      pub_key: pair.pub,
      ttl,
    });
    if (response.status !== 200) throw new Error(`login failed: ${JSON.stringify(response.body)}`);
    const certPath = `${pair.path}-cert.pub`;
    await Deno.writeTextFile(certPath, response.body.cert + "\n");
    return {
      keyPath: pair.path,
      certPath,
      cert: response.body.cert,
      hostCa: response.body.host_ca,
    };
  };

  const cliLogin = async (user: TestUser, home: string, args: string[] = [], proxy = postern) =>
    runPostern([
      "login",
      "--proxy",
      `127.0.0.1:${proxy.webPort}`,
      "--user",
      user.name,
      "--otp",
      await otp(user),
      ...args,
    ], { stdin: "y\n", env: { POSTERN_HOME: home, POSTERN_PASSWORD: user.password } });

  const webLogin = async (user: TestUser) => {
    const response = await api("POST", "/v1/webapi/sessions", {
      user: user.name,
      password: user.password,
      second_factor_token: await otp(user),
    });
    if (response.status !== 200) {
      throw new Error(`web login failed: ${JSON.stringify(response.body)}`);
    }
    const cookie = response.headers.get("set-cookie")!.split(";")[0];
    return { cookie, csrf: response.body.csrf_token, body: response.body };
  };

  const stop = async () => {
    http.close();
    await Promise.all([
      ...(options.split ? proxies : [postern]).map((p) => p.stop()),
      sshd.stop(),
    ]);
    await Promise.all(authServers.map((a) => a.stop()));
    await authBalancer?.stop();
    // Keys, data dirs and recordings: nothing of a finished cluster is kept.
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    postern,
    authServer: authServers[0],
    authServers,
    proxies,
    sshd,
    dir,
    http,
    api,
    admin,
    createUser,
    otp,
    login,
    cliLogin,
    webLogin,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
