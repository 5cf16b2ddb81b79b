/**
 * Makes sure the Debian packages the tests drive are installed: OpenSSH
 * server and client, Chromium, curl, iproute2 (ss), haproxy, ssh-audit and PostgreSQL. As root it installs what is missing with
 * apt-get; otherwise it prints the exact command to run and fails.
 *
 * @module
 */

const NEEDED: Record<string, string> = {
  "/usr/sbin/sshd": "openssh-server",
  "/usr/bin/ssh": "openssh-client",
  "/usr/bin/ssh-keygen": "openssh-client",
  "/usr/bin/chromium": "chromium",
  // Hostile-client tests: curl sends malformed requests, ss shows half-open dials.
  "/usr/bin/curl": "curl",
  "/usr/bin/ss": "iproute2",
  // The production layout's test puts a real TCP load balancer in front of two proxies.
  "/usr/sbin/haproxy": "haproxy",
  // The gateway's algorithm lists are checked with ssh-audit.
  "/usr/bin/ssh-audit": "ssh-audit",
  // The metrics test checks the /metrics output with `promtool check metrics`.
  "/usr/bin/promtool": "prometheus",
  // The unit that `postern install systemd` prints is checked with `systemd-analyze verify`.
  "/usr/bin/systemd-analyze": "systemd",
};

/** The PostgreSQL store's tests run their own server (initdb, pg_ctl) of any installed version. */
async function hasPostgresServer(): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (await exists(`/usr/lib/postgresql/${entry.name}/bin/initdb`)) return true;
    }
  } catch {
    // Not installed.
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const missing = new Set<string>();
for (const [path, pkg] of Object.entries(NEEDED)) {
  if (!(await exists(path))) missing.add(pkg);
}
if (!(await hasPostgresServer())) missing.add("postgresql");

if (missing.size > 0) {
  const packages = [...missing].sort().join(" ");
  const command = `apt-get update && apt-get install -y --no-install-recommends ${packages}`;
  if (Deno.uid() !== 0) {
    console.error(`The tests need Debian packages that are missing: ${packages}`);
    console.error(`Install them as root and run the tests again:\n  sudo sh -c '${command}'`);
    Deno.exit(1);
  }
  console.error(`installing test dependencies: ${packages}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (
    const args of [["update", "-qq"], [
      "install",
      "-y",
      "-qq",
      "--no-install-recommends",
      ...missing,
    ]]
  ) {
    const { code } = await new Deno.Command("apt-get", {
      args,
      env,
      stdout: "inherit",
      stderr: "inherit",
    })
      .output();
    if (code !== 0) {
      console.error(`apt-get ${args[0]} failed (exit ${code}); run by hand: ${command}`);
      Deno.exit(1);
    }
  }
}
await Deno.mkdir("/run/sshd", { recursive: true }).catch(() => {});
