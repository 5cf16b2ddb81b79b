/**
 * A private PostgreSQL server for tests: Debian's `postgresql` binaries, a
 * fresh cluster (`initdb`) in a temp dir, listening on a free loopback port,
 * run as the `postgres` user when the tests run as root. It stops with
 * `stop()`, and a watchdog stops it if the test process dies first.
 *
 * @module
 */

import { join } from "node:path";
import { freePort, waitForPort } from "./ports.ts";

/** A running PostgreSQL server. */
export interface TestPostgres extends AsyncDisposable {
  port: number;
  /** A database URL for a new, empty database (each call creates one). */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server like a crash (`-m immediate`), keeping its data, until `start()`. */
  kill(): Promise<void>;
  /** Starts the server again after `kill()`, on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory. */
async function binDir(): Promise<string> {
  const versions: number[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (/^\d+$/.test(entry.name)) versions.push(Number(entry.name));
    }
  } catch {
    // Reported below.
  }
  if (versions.length === 0) {
    throw new Error(
      "PostgreSQL is not installed: run `apt-get install -y postgresql` (deno task test does it as root).",
    );
  }
  return `/usr/lib/postgresql/${Math.max(...versions)}/bin`;
}

const POSTGRES_UID = () => Deno.uid() === 0;

/** Runs a PostgreSQL program, as the postgres user when we are root. */
async function run(program: string, args: string[]): Promise<string> {
  const [command, fullArgs] = POSTGRES_UID()
    ? ["runuser", ["-u", "postgres", "--", program, ...args]]
    : [program, args];
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args: fullArgs,
    stdout: "piped",
    stderr: "piped",
    cwd: "/tmp",
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (code !== 0) throw new Error(`${program} ${args.join(" ")} failed (${code}): ${out}`);
  return out;
}

/**
 * Starts PostgreSQL in a new cluster with trust authentication on
 * 127.0.0.1 only.
 *
 * @example
 * ```ts
 * await using pg = await startPostgres();
 * const url = await pg.createDatabase();
 * ```
 */
export async function startPostgres(
  options: { tls?: { cert: string; key: string } } = {},
): Promise<TestPostgres> {
  const bin = await binDir();
  const dir = await Deno.makeTempDir({ prefix: "postern-pg-" });
  if (POSTGRES_UID()) {
    const { code } = await new Deno.Command("chown", { args: ["postgres:postgres", dir] })
      .output();
    if (code !== 0) throw new Error(`Cannot give ${dir} to the postgres user`);
  }
  const data = join(dir, "data");
  await run(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const settings = [
    `-p ${freePort()}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c max_connections=200",
  ];
  const port = Number(settings[0].slice(3));
  if (options.tls) {
    // The server reads its key only when the postgres user owns it, mode 0600.
    await Deno.writeTextFile(join(data, "server.crt"), options.tls.cert);
    await Deno.writeTextFile(join(data, "server.key"), options.tls.key, { mode: 0o600 });
    if (POSTGRES_UID()) {
      await new Deno.Command("chown", {
        args: ["postgres:postgres", join(data, "server.crt"), join(data, "server.key")],
      }).output();
    }
    settings.push("-c ssl=on");
  }
  const start = async () => {
    await run(join(bin, "pg_ctl"), [
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-o",
      settings.join(" "),
      "start",
    ]);
    await waitForPort(port, 10_000);
  };
  await start();
  // Stops the server if this process dies without stopping it.
  const watchdog = new Deno.Command("sh", {
    args: [
      "-c",
      `while kill -0 ${Deno.pid} 2>/dev/null && [ -d ${data} ]; do sleep 1; done; ` +
      (POSTGRES_UID() ? `runuser -u postgres -- ` : "") +
      `${bin}/pg_ctl -D ${data} stop -m immediate >/dev/null 2>&1`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  watchdog.unref();
  let databases = 0;
  let stopped = false;
  const pgStop = (mode: string) => run(join(bin, "pg_ctl"), ["-D", data, "-w", "-m", mode, "stop"]);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await pgStop("fast").catch(() => {});
    watchdog.ref();
    try {
      watchdog.kill("SIGKILL");
    } catch {
      // It noticed the server stopped and exited.
    }
    await watchdog.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    port,
    async createDatabase(name = `postern_${++databases}`) {
      await run(join(bin, "psql"), [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-c",
        `CREATE DATABASE ${name}`,
      ]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    kill: async () => void await pgStop("immediate"),
    start,
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
}
