/**
 * The user commands of the CLI (Teleport's `tsh`): login, status, ls, ssh,
 * config, sessions, join, play, agent, logout.
 *
 * Commands that need ssh2 or the agent import them when they run, so that
 * `postern proxy ssh` (started by OpenSSH for every connection) and the other
 * commands start without loading what they do not use.
 *
 * @module
 */

import type { Command } from "./args.ts";
import { stringFlag, UsageError } from "./args.ts";
import { formatTable } from "./format.ts";
import { clusterStatusFlags } from "./cluster_status.ts";
import { importLazily } from "./lazy.ts";

/** What most commands here run, loaded when one runs (see the module doc). */
const loadClientCommands = () => import("../client/commands.ts");

const say = (line: string) => console.error(line);

async function readPasswordFile(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return Deno.env.get("POSTERN_PASSWORD") || undefined;
  return (await Deno.readTextFile(path)).replace(/\r?\n$/, "");
}

function formatFlag(value: string | undefined): "table" | "json" {
  const format = value ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`--format "${format}" is not table or json`);
  }
  return format;
}

export const clientCommands: Command[] = [
  {
    path: ["login"],
    summary: "Log in to a proxy and get a short-lived SSH certificate",
    details: `
Asks for the password and the authenticator code, generates a key pair and stores
it with its certificate in ~/.tsh/keys/<proxy>/ (POSTERN_HOME overrides ~/.tsh).
A self-signed proxy certificate is shown and pinned on first use.

With --browser, approve the login in a browser with your security key instead
(postern prints the address and a code to compare); with --auth <connector>,
sign in there through single sign-on. --headless only prints the address, to
open on another machine.

Examples:
  postern login --proxy proxy.example.com --user alice
  POSTERN_PASSWORD=... postern login --proxy 127.0.0.1:3080 --user alice --otp 123456
  postern login --proxy proxy.example.com --browser
  postern login --proxy proxy.example.com --auth okta --headless`,
    maxArgs: 0,
    flags: {
      proxy: { type: "string", placeholder: "host[:3080]", description: "the proxy's web address" },
      user: { type: "string", placeholder: "name", description: "your postern user name" },
      ttl: {
        type: "string",
        placeholder: "duration",
        description: "certificate lifetime (capped by your roles)",
      },
      "password-file": {
        type: "string",
        placeholder: "file",
        description: "read the password from a file",
      },
      otp: {
        type: "string",
        placeholder: "code",
        description: "the authenticator code (else asked)",
      },
      insecure: {
        type: "boolean",
        description: "do not verify the proxy's HTTPS certificate (testing only)",
      },
      browser: {
        type: "boolean",
        description: "approve the login in a browser (security key) instead of a password",
      },
      auth: {
        type: "string",
        placeholder: "connector",
        description: "sign in through this single sign-on connector in a browser",
      },
      headless: {
        type: "boolean",
        description: "with --browser or --auth: only print the address to open elsewhere",
      },
    },
    async run(parsed) {
      const proxy = stringFlag(parsed, "proxy");
      if (!proxy) throw new UsageError("--proxy is required");
      const { login } = await import("../client/login.ts");
      const profile = await login({
        proxy,
        user: stringFlag(parsed, "user"),
        ttl: stringFlag(parsed, "ttl"),
        insecure: parsed.flags.insecure === true,
        password: await readPasswordFile(stringFlag(parsed, "password-file")),
        otp: stringFlag(parsed, "otp"),
        browser: parsed.flags.browser === true,
        connector: stringFlag(parsed, "auth"),
        headless: parsed.flags.headless === true,
        say,
      });
      say(`Logged in as ${profile.user} at ${profile.proxy} (cluster ${profile.cluster}).`);
      say(
        `Logins: ${
          profile.logins.join(", ") || "(none)"
        }; certificate valid until ${profile.validBefore}.`,
      );
      return 0;
    },
  },
  {
    path: ["status"],
    summary: "Show the current login and certificate (--cluster: the cluster, for admins)",
    details: `
With --cluster, shows what an administrator checks first, from the auth
server: its version and store, the certificate authorities with fingerprints
and ages, every proxy with when it was last heard from, and counts of users,
nodes and live sessions. On the auth host it reads the data dir (--data-dir,
--config); elsewhere it asks --auth-server with --identity (an admin identity).
Exits 1 when the store is not ready.

Examples:
  postern status
  postern status --cluster --data-dir /var/lib/postern
  postern status --cluster --auth-server auth.example.com:3025 --identity admin.identity`,
    maxArgs: 0,
    flags: clusterStatusFlags,
    async run(parsed) {
      if (parsed.flags.cluster) {
        const { showClusterStatus } = await import("./cluster_status.ts");
        return await showClusterStatus(parsed);
      }
      const { status } = await loadClientCommands();
      console.log(await status());
      return 0;
    },
  },
  {
    path: ["ls"],
    summary: "List the nodes you may reach",
    usage: "[label=value ...]",
    flags: { format: { type: "string", placeholder: "table|json", description: "output format" } },
    async run(parsed) {
      const format = formatFlag(stringFlag(parsed, "format"));
      const { listNodes, nodesTable } = await loadClientCommands();
      const nodes = await listNodes(parsed.args);
      if (format === "json") {
        console.log(
          JSON.stringify(
            nodes.map(({ name, addr, labels, logins }) => ({ name, addr, labels, logins })),
            null,
            2,
          ),
        );
      } else console.log(nodesTable(nodes));
      return 0;
    },
  },
  {
    path: ["ssh"],
    summary: "Open a recorded SSH session on a node through the proxy",
    usage: "[login@]node [command...]",
    details: `
Interactive shell when stdin is a terminal, else runs the command with stdin
piped. The remote command's exit code becomes postern's.

With a label selector instead of a node (login@key=value[,key=value...]), the
command runs on every node you may reach with those labels, at once; each
output line starts with its node's name, and the exit code is the worst one.

-L and -R forward ports as OpenSSH's do, [bind_address:]port:host:hostport:
-L listens here (loopback by default) and connects from the node; -R listens
on the node and connects from here. They may repeat; with -N nothing runs and
the forwards last until Ctrl-C.

Examples:
  postern ssh root@saturn
  postern ssh root@saturn -- uname -a
  postern ssh root@env=prod uptime
  postern ssh --tunnel root@saturn
  postern ssh -N -L 5432:db.internal:5432 root@saturn`,
    minArgs: 1,
    maxArgs: 1,
    passThrough: true,
    flags: {
      tunnel: {
        type: "boolean",
        description: "end to end through the proxy: subsystem (not recorded by the proxy)",
      },
      "local-forward": {
        type: "list",
        short: "L",
        placeholder: "[addr:]port:host:hostport",
        description: "listen here, connect to host:hostport from the node",
      },
      "remote-forward": {
        type: "list",
        short: "R",
        placeholder: "[addr:]port:host:hostport",
        description: "listen on the node, connect to host:hostport from here",
      },
      "no-command": {
        type: "boolean",
        short: "N",
        description: "run no command; only forward ports until Ctrl-C",
      },
    },
    async run(parsed) {
      const { ssh } = await importLazily("ssh");
      const { parseForwardSpec } = await importLazily("forwarding");
      const specs = (name: string, flag: "-L" | "-R") =>
        ((parsed.flags[name] as string[] | undefined) ?? []).map((s) => {
          try {
            return parseForwardSpec(s, flag);
          } catch (error) {
            throw new UsageError((error as Error).message, this);
          }
        });
      const noCommand = parsed.flags["no-command"] === true;
      if (noCommand && parsed.rest.length) {
        throw new UsageError("-N runs no command; drop the command or -N", this);
      }
      return await ssh(parsed.args[0], parsed.rest, {
        tunnel: parsed.flags.tunnel === true,
        localForwards: specs("local-forward", "-L"),
        remoteForwards: specs("remote-forward", "-R"),
        noCommand,
      });
    },
  },
  {
    path: ["config"],
    summary: "Print an ssh_config block so stock ssh reaches nodes through the proxy",
    details: `Example:
  postern config >> ~/.ssh/config && ssh root@saturn

Nodes are reached through the proxy's SSH port; with --fdpass, through the fast
tunnel on its HTTPS port instead (the proxy must offer it: proxy.tunnel_fast_path).`,
    maxArgs: 0,
    flags: {
      fdpass: {
        type: "boolean",
        description: "reach nodes with postern proxy ssh --fdpass (ProxyUseFdpass)",
      },
    },
    async run(parsed) {
      const { sshConfig } = await loadClientCommands();
      console.log(await sshConfig({ fdpass: parsed.flags.fdpass === true }));
      return 0;
    },
  },
  {
    path: ["sessions", "ls"],
    summary: "List live sessions and recordings you may see",
    maxArgs: 0,
    flags: { format: { type: "string", placeholder: "table|json", description: "output format" } },
    async run(parsed) {
      const format = formatFlag(stringFlag(parsed, "format"));
      const { sessionsTables } = await loadClientCommands();
      const { live, recordings } = await sessionsTables();
      if (format === "json") {
        console.log(JSON.stringify({ live, recordings }, null, 2));
        return 0;
      }
      type Row = Record<string, string | number | null>;
      console.log("Live sessions:");
      console.log(formatTable(
        ["ID", "USER", "LOGIN", "NODE", "PROXY", "STARTED"],
        (live as Row[]).map((s) => [
          String(s.id),
          String(s.user),
          String(s.login),
          String(s.node),
          String(s.proxy ?? "-"),
          String(s.started),
        ]),
      ));
      console.log("\nRecordings:");
      console.log(formatTable(
        ["ID", "USER", "LOGIN", "NODE", "STARTED", "EXIT"],
        (recordings as Row[]).map((s) => [
          String(s.id),
          String(s.user),
          String(s.login),
          String(s.node),
          String(s.started),
          s.ended === null ? "running" : String(s.exit_code ?? "-"),
        ]),
      ));
      return 0;
    },
  },
  {
    path: ["sessions", "end"],
    summary: "End a live session, whichever proxy runs it",
    details: `
Your own sessions, or any with the sessions.end permission (admins). Every
party sees who ended it.

Example:
  postern sessions end 3f2c9a1e-...`,
    usage: "<session-id>",
    minArgs: 1,
    maxArgs: 1,
    flags: {},
    async run(parsed) {
      const { endSession } = await loadClientCommands();
      await endSession(parsed.args[0]);
      console.log(`Session "${parsed.args[0]}" ended.`);
      return 0;
    },
  },
  {
    path: ["join"],
    summary: "Join a live session as observer (read-only) or peer",
    usage: "<session-id>",
    minArgs: 1,
    maxArgs: 1,
    flags: {
      mode: { type: "string", placeholder: "observer|peer", description: "default observer" },
    },
    run(parsed) {
      const mode = stringFlag(parsed, "mode") ?? "observer";
      if (mode !== "observer" && mode !== "peer") {
        throw new UsageError(`--mode "${mode}" is not observer or peer`);
      }
      return importLazily("ssh").then(({ join }) => join(parsed.args[0], mode));
    },
  },
  {
    path: ["play"],
    summary: "Replay a recorded session in the terminal",
    usage: "<session-id|file.cast>",
    minArgs: 1,
    maxArgs: 1,
    flags: {
      speed: { type: "string", placeholder: "factor", description: "playback speed (default 1)" },
    },
    async run(parsed) {
      const speed = Number(stringFlag(parsed, "speed") ?? "1");
      if (!(speed > 0 && speed <= 1000)) throw new UsageError("--speed must be a number above 0");
      const { fetchRecording } = await loadClientCommands();
      const { writeAll } = await import("../client/io.ts");
      const text = await fetchRecording(parsed.args[0]);
      const { playRecording } = await importLazily("play");
      const controller = new AbortController();
      const stop = () => controller.abort();
      Deno.addSignalListener("SIGINT", stop);
      try {
        await playRecording(text, {
          speed,
          write: (data) => writeAll(Deno.stdout, data),
          signal: controller.signal,
        });
      } finally {
        Deno.removeSignalListener("SIGINT", stop);
      }
      return 0;
    },
  },
  {
    path: ["agent"],
    summary: "Serve your key and certificate over an ssh-agent socket",
    details: `
Like ssh-agent: starts in the background and prints the shell lines that point
ssh at it. It stops when the certificate expires, when postern logout removes
the key, or with postern agent -k.

Examples:
  eval "$(postern agent)" && ssh -J root@proxy:3023 root@saturn
  eval "$(postern agent -k)"`,
    maxArgs: 0,
    flags: {
      socket: {
        type: "string",
        placeholder: "path",
        description: "socket path (default: a new temp dir)",
      },
      foreground: { type: "boolean", short: "D", description: "stay in the foreground" },
      kill: { type: "boolean", short: "k", description: "stop the agent of $SSH_AGENT_PID" },
      csh: { type: "boolean", short: "c", description: "print C shell lines" },
      sh: { type: "boolean", short: "s", description: "print Bourne shell lines" },
    },
    async run(parsed) {
      const { runAgent, killAgent } = await importLazily("agentDaemon");
      const { shellSyntax } = await import("../client/agent_shell.ts");
      if (parsed.flags.csh === true && parsed.flags.sh === true) {
        throw new UsageError("-c and -s cannot be combined");
      }
      const forced = parsed.flags.csh === true
        ? "csh"
        : parsed.flags.sh === true
        ? "sh"
        : undefined;
      const syntax = shellSyntax(forced, Deno.env.get("SHELL"));
      if (parsed.flags.kill === true) return killAgent(syntax);
      return await runAgent({
        socketPath: stringFlag(parsed, "socket"),
        syntax,
        foreground: parsed.flags.foreground === true,
      });
    },
  },
  {
    path: ["proxy", "ssh"],
    summary: "ProxyCommand that reaches a node through the proxy's HTTPS port",
    usage: "<login>@<host>[:<port>]",
    details: `
For ~/.ssh/config; only the proxy's HTTPS port needs to be reachable:
  Host *.example
    ProxyCommand postern proxy ssh %r@%h:%p

Where the proxy offers the fast tunnel path (proxy.tunnel_fast_path), hand
the connection to ssh and leave nothing in between:
  Host *.example
    ProxyCommand postern proxy ssh --fdpass %r@%h:%p
    ProxyUseFdpass yes`,
    minArgs: 1,
    maxArgs: 1,
    flags: {
      fdpass: {
        type: "boolean",
        description: "pass the connection to ssh (with ProxyUseFdpass yes) and exit",
      },
    },
    run: async (parsed) =>
      (await import("../client/https_tunnel.ts")).proxySsh(parsed.args[0], {
        fdpass: parsed.flags.fdpass === true,
      }),
  },
  {
    path: ["logout"],
    summary: "Remove the keys of the current proxy",
    maxArgs: 0,
    flags: {},
    async run() {
      const { logout } = await loadClientCommands();
      say(await logout());
      return 0;
    },
  },
];
