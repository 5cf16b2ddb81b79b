/**
 * A real TCP load balancer (Debian's haproxy) on loopback, in front of
 * several proxies: each frontend port round-robins over its backend ports.
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
  frontends: Record<string, { port: number; backends: number[] }>,
): Promise<Haproxy> {
  const dir = await Deno.makeTempDir({ prefix: "postern-haproxy-" });
  const ports: Record<string, number> = {};
  const lines = [
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 1h",
    "  timeout server 1h",
  ];
  for (const [name, { port, backends: targets }] of Object.entries(frontends)) {
    ports[name] = port;
    lines.push(
      `frontend ${name}`,
      `  bind 127.0.0.1:${ports[name]}`,
      `  default_backend ${name}_proxies`,
      `backend ${name}_proxies`,
      "  balance roundrobin",
      ...targets.map((port, i) => `  server p${i} 127.0.0.1:${port}`),
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
