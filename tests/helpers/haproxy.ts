/**
 * A real TCP load balancer (Debian's haproxy) on loopback, in front of
 * several proxies or auth servers: each frontend port round-robins over its
 * backend ports, and a connection refused by one is retried on another.
 *
 * @module
 */

import { join } from "node:path";

/** A running haproxy. */
export interface Haproxy extends AsyncDisposable {
  /** The frontend port of each named frontend. */
  ports: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * Starts haproxy with one TCP frontend per entry (name → its port, a free
 * one, and the backend ports it spreads connections over).
 */
export async function startHaproxy(
  frontends: Record<string, { port: number; backends: number[]; check?: boolean }>,
): Promise<Haproxy> {
  const dir = await Deno.makeTempDir({ prefix: "postern-haproxy-" });
  const ports: Record<string, number> = {};
  const lines = [
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 1h",
    "  timeout server 1h",
    // A connection refused by a dead backend is tried on another one.
    "  option redispatch",
    "  retries 3",
  ];
  for (const [name, { port, backends: targets, check }] of Object.entries(frontends)) {
    ports[name] = port;
    lines.push(
      `frontend ${name}`,
      `  bind 127.0.0.1:${ports[name]}`,
      `  default_backend ${name}_proxies`,
      `backend ${name}_proxies`,
      "  balance roundrobin",
      // With `check`, a backend that stops accepting is taken out within a second.
      ...targets.map((port, i) =>
        `  server p${i} 127.0.0.1:${port}${check ? " check inter 300ms fall 2 rise 1" : ""}`
      ),
    );
  }
  const config = join(dir, "haproxy.cfg");
  await Deno.writeTextFile(config, lines.join("\n") + "\n");
  const child = new Deno.Command("/usr/sbin/haproxy", {
    args: ["-db", "-f", config],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs = (async () => {
    let text = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
    return text;
  })();
  await waitForPort(Object.values(ports)[0], child);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* exited */ }
    await child.status;
    await logs;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return { ports, stop, [Symbol.asyncDispose]: stop };
}

async function waitForPort(port: number, child: Deno.ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`haproxy did not listen on ${port}`);
}
