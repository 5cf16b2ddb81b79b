/**
 * startAgent() spoken to over its socket in the raw agent protocol: identities,
 * signatures checked with lib/sshcert, lock/unlock, refusals, and connections
 * that send oversize or malformed messages.
 */

import assert from "node:assert/strict";
import { AgentMessage } from "../../lib/sshagent/protocol.ts";
import {
  MAX_AGENT_MESSAGE_BYTES,
  SSH_AGENT_RSA_SHA2_256,
  SSH_AGENT_RSA_SHA2_512,
  startAgent,
} from "../../lib/client/agent.ts";
import {
  agentKillLines,
  agentShellLines,
  type ShellSyntax,
  shellSyntax,
} from "../../lib/client/agent_shell.ts";
import { isKind } from "../../lib/errors.ts";
import {
  DEFAULT_USER_EXTENSIONS,
  encodeOpenSshPrivateKey,
  generateEd25519KeyPair,
  parseSignature,
  signCertificate,
  SshReader,
  SshWriter,
  verifySignature,
} from "../../lib/sshcert/mod.ts";

const CA = generateEd25519KeyPair();
const USER = generateEd25519KeyPair();
const OTHER = generateEd25519KeyPair();
const CERT = signCertificate({
  caPrivateKey: CA.privateKey,
  publicKey: USER.publicKeyBlob,
  type: "user",
  keyId: "alice",
  principals: ["root"],
  validAfter: new Date(Date.now() - 60_000),
  validBefore: new Date(Date.now() + 3_600_000),
  extensions: DEFAULT_USER_EXTENSIONS,
  comment: "alice@postern",
});
const PRIVATE_PEM = encodeOpenSshPrivateKey(USER.privateKey, "alice-key");

function agentOptions(extra: Partial<Parameters<typeof startAgent>[0]> = {}) {
  return { privateKey: PRIVATE_PEM, certificate: CERT.line, ...extra };
}

/** A raw agent protocol client. */
class RawClient {
  #header = new Uint8Array(4);
  private constructor(readonly conn: Deno.UnixConn) {}

  static async connect(path: string): Promise<RawClient> {
    return new RawClient(await Deno.connect({ transport: "unix", path }));
  }

  /** Sends type + payload, framed. */
  async send(type: number, payload: (w: SshWriter) => void = () => {}): Promise<void> {
    const body = new SshWriter().u8(type);
    payload(body);
    await this.sendRaw(new SshWriter().string(body.bytes()).bytes().slice());
  }

  async sendRaw(bytes: Uint8Array): Promise<void> {
    for (let n = 0; n < bytes.length;) n += await this.conn.write(bytes.subarray(n));
  }

  /** Reads one reply; null when the agent closed the connection. */
  async receive(): Promise<SshReader | null> {
    if (!await this.#fill(this.#header)) return null;
    const body = new Uint8Array(new DataView(this.#header.buffer).getUint32(0));
    if (!await this.#fill(body)) return null;
    return new SshReader(body, "agent reply");
  }

  async request(type: number, payload?: (w: SshWriter) => void): Promise<SshReader> {
    await this.send(type, payload);
    const reply = await this.receive();
    assert.ok(reply, "agent closed the connection instead of answering");
    return reply;
  }

  /** The reply's type only, for FAILURE/SUCCESS answers. */
  async status(type: number, payload?: (w: SshWriter) => void): Promise<number> {
    const reply = await this.request(type, payload);
    const code = reply.u8();
    reply.end();
    return code;
  }

  async identities(): Promise<{ blob: Uint8Array; comment: string }[]> {
    const reply = await this.request(AgentMessage.REQUEST_IDENTITIES);
    assert.equal(reply.u8(), AgentMessage.IDENTITIES_ANSWER);
    const count = reply.u32();
    const out = [];
    for (let i = 0; i < count; i++) out.push({ blob: reply.string(), comment: reply.cstring() });
    reply.end();
    return out;
  }

  /** SIGN_REQUEST; the signature blob, or null on FAILURE. */
  async sign(keyBlob: Uint8Array, data: Uint8Array, flags = 0): Promise<Uint8Array | null> {
    const reply = await this.request(
      AgentMessage.SIGN_REQUEST,
      (w) => w.string(keyBlob).string(data).u32(flags),
    );
    const type = reply.u8();
    if (type === AgentMessage.FAILURE) return null;
    assert.equal(type, AgentMessage.SIGN_RESPONSE);
    const signature = reply.string().slice();
    reply.end();
    return signature;
  }

  async #fill(buf: Uint8Array): Promise<boolean> {
    for (let filled = 0; filled < buf.length;) {
      const n = await this.conn.read(buf.subarray(filled));
      if (n === null) return false;
      filled += n;
    }
    return true;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed by the agent already.
    }
  }
}

const data = new TextEncoder().encode("session id and userauth request");

Deno.test("startAgent() lists the certificate first, then the plain key, with comments", async () => {
  await using agent = await startAgent(agentOptions());
  const client = await RawClient.connect(agent.socketPath);
  try {
    assert.deepEqual(await client.identities(), [
      { blob: CERT.blob, comment: "alice@postern" },
      { blob: USER.publicKeyBlob, comment: "alice@postern" },
    ]);
  } finally {
    client.close();
  }
});

Deno.test("startAgent() uses the given comment, else the key file's when the cert has none", async () => {
  const bare = CERT.line.split(" ").slice(0, 2).join(" ");
  for (
    const [options, expected] of [
      [{ comment: "work laptop" }, "work laptop"],
      [{ certificate: bare }, "alice-key"],
    ] as const
  ) {
    await using agent = await startAgent(agentOptions(options));
    const client = await RawClient.connect(agent.socketPath);
    try {
      const ids = await client.identities();
      assert.deepEqual(ids.map((id) => id.comment), [expected, expected]);
    } finally {
      client.close();
    }
  }
});

Deno.test("startAgent() signs for the certificate and for the plain key, whatever the rsa flags", async () => {
  await using agent = await startAgent(agentOptions());
  const client = await RawClient.connect(agent.socketPath);
  try {
    for (const blob of [CERT.blob, USER.publicKeyBlob]) {
      for (const flags of [0, SSH_AGENT_RSA_SHA2_256, SSH_AGENT_RSA_SHA2_512]) {
        const signature = await client.sign(blob, data, flags);
        assert.ok(signature, `no signature for flags ${flags}`);
        assert.equal(parseSignature(signature).algorithm, "ssh-ed25519");
        assert.ok(verifySignature(USER.publicKey, data, signature));
        assert.ok(!verifySignature(USER.publicKey, new TextEncoder().encode("other"), signature));
      }
    }
  } finally {
    client.close();
  }
});

Deno.test("startAgent() answers FAILURE to a sign request for a key it does not hold", async () => {
  await using agent = await startAgent(agentOptions());
  const client = await RawClient.connect(agent.socketPath);
  try {
    assert.equal(await client.sign(OTHER.publicKeyBlob, data), null);
    assert.equal(await client.sign(CA.publicKeyBlob, data), null);
    // The connection stays usable after a refusal.
    assert.ok(await client.sign(USER.publicKeyBlob, data));
  } finally {
    client.close();
  }
});

Deno.test("startAgent() hides identities and refuses to sign while locked", async () => {
  await using agent = await startAgent(agentOptions());
  const client = await RawClient.connect(agent.socketPath);
  const pass = (text: string) => (w: SshWriter) => w.string(text);
  try {
    const { FAILURE, SUCCESS, LOCK, UNLOCK } = AgentMessage;
    assert.equal(await client.status(UNLOCK, pass("s3cret")), FAILURE, "unlock while unlocked");
    assert.equal(await client.status(LOCK, pass("s3cret")), SUCCESS);
    assert.deepEqual(await client.identities(), []);
    assert.equal(await client.sign(CERT.blob, data), null);
    assert.equal(await client.status(LOCK, pass("other")), FAILURE, "lock while locked");

    // Another connection sees the same lock.
    const second = await RawClient.connect(agent.socketPath);
    try {
      assert.deepEqual(await second.identities(), []);
      assert.equal(await second.status(UNLOCK, pass("wrong")), FAILURE);
      assert.equal(await second.status(UNLOCK, pass("other")), FAILURE);
    } finally {
      second.close();
    }
    assert.deepEqual(await client.identities(), [], "a wrong passphrase must not unlock");

    assert.equal(await client.status(UNLOCK, pass("s3cret")), SUCCESS);
    assert.equal((await client.identities()).length, 2);
    assert.ok(await client.sign(CERT.blob, data));
  } finally {
    client.close();
  }
});

Deno.test("startAgent() refuses to add, remove or extend with FAILURE and keeps the connection", async () => {
  await using agent = await startAgent(agentOptions());
  const client = await RawClient.connect(agent.socketPath);
  const cases: [string, number, (w: SshWriter) => void][] = [
    [
      "ADD_IDENTITY",
      AgentMessage.ADD_IDENTITY,
      (w) => w.string("ssh-ed25519").string(OTHER.publicKeyBlob),
    ],
    ["ADD_ID_CONSTRAINED", AgentMessage.ADD_ID_CONSTRAINED, (w) => w.string("ssh-ed25519")],
    ["REMOVE_IDENTITY", AgentMessage.REMOVE_IDENTITY, (w) => w.string(USER.publicKeyBlob)],
    ["REMOVE_ALL_IDENTITIES", AgentMessage.REMOVE_ALL_IDENTITIES, () => {}],
    [
      "ADD_SMARTCARD_KEY",
      AgentMessage.ADD_SMARTCARD_KEY,
      (w) => w.string("/lib/pkcs11.so").string(""),
    ],
    ["REMOVE_SMARTCARD_KEY", AgentMessage.REMOVE_SMARTCARD_KEY, (w) => w.string("/lib/pkcs11.so")],
    ["ADD_SMARTCARD_KEY_CONSTRAINED", AgentMessage.ADD_SMARTCARD_KEY_CONSTRAINED, () => {}],
    ["EXTENSION query", AgentMessage.EXTENSION, (w) => w.string("query")],
    [
      "EXTENSION session-bind",
      AgentMessage.EXTENSION,
      (w) => w.string("session-bind@openssh.com").string(OTHER.publicKeyBlob),
    ],
    ["protocol 1 REQUEST_RSA_IDENTITIES", 1, () => {}],
    ["protocol 1 REMOVE_ALL_RSA_IDENTITIES", 9, () => {}],
    ["unknown 200", 200, (w) => w.u32(7)],
  ];
  try {
    for (const [name, type, payload] of cases) {
      assert.equal(await client.status(type, payload), AgentMessage.FAILURE, name);
    }
    assert.equal((await client.identities()).length, 2, "still serving its identities");
  } finally {
    client.close();
  }
});

Deno.test("startAgent() closes a connection that sends an oversize or malformed message, and only that one", async () => {
  await using agent = await startAgent(agentOptions());
  const bystander = await RawClient.connect(agent.socketPath);
  const u32 = (n: number) => new SshWriter().u32(n).bytes().slice();
  const cases: [string, (c: RawClient) => Promise<void>][] = [
    ["length over 256 KiB", (c) => c.sendRaw(u32(MAX_AGENT_MESSAGE_BYTES + 1))],
    ["length 2^32-1", (c) => c.sendRaw(u32(0xffff_ffff))],
    ["zero length", (c) => c.sendRaw(u32(0))],
    [
      "truncated sign request",
      (c) => c.send(AgentMessage.SIGN_REQUEST, (w) => w.string(CERT.blob)),
    ],
    [
      "sign request with a lying string length",
      (c) => c.send(AgentMessage.SIGN_REQUEST, (w) => w.u32(1_000_000)),
    ],
    [
      "sign request with trailing bytes",
      (c) =>
        c.send(AgentMessage.SIGN_REQUEST, (w) => w.string(CERT.blob).string(data).u32(0).u8(1)),
    ],
    [
      "identities request with a payload",
      (c) => c.send(AgentMessage.REQUEST_IDENTITIES, (w) => w.u32(1)),
    ],
    ["lock without a passphrase", (c) => c.send(AgentMessage.LOCK)],
    ["extension without a name", (c) => c.send(AgentMessage.EXTENSION, (w) => w.u8(1))],
  ];
  try {
    for (const [name, misbehave] of cases) {
      const client = await RawClient.connect(agent.socketPath);
      try {
        await misbehave(client);
        assert.equal(await client.receive(), null, `${name}: connection not closed`);
      } finally {
        client.close();
      }
    }
    // A message of exactly the limit is read (and refused as unknown), not dropped.
    const big = await RawClient.connect(agent.socketPath);
    try {
      const body = new Uint8Array(MAX_AGENT_MESSAGE_BYTES);
      body[0] = 200;
      await big.sendRaw(new SshWriter().string(body).bytes().slice());
      const reply = await big.receive();
      assert.equal(reply?.u8(), AgentMessage.FAILURE);
    } finally {
      big.close();
    }
    assert.equal((await bystander.identities()).length, 2);
  } finally {
    bystander.close();
  }
});

Deno.test("startAgent() serves many clients at once", async () => {
  await using agent = await startAgent(agentOptions());
  const results = await Promise.all(
    Array.from({ length: 32 }, async (_, i) => {
      const client = await RawClient.connect(agent.socketPath);
      try {
        const message = new TextEncoder().encode(`client ${i}`);
        const signature = await client.sign(i % 2 ? CERT.blob : USER.publicKeyBlob, message);
        return signature !== null && verifySignature(USER.publicKey, message, signature);
      } finally {
        client.close();
      }
    }),
  );
  assert.deepEqual(results, results.map(() => true));
});

Deno.test("startAgent() makes a private 0700 folder and a 0600 socket, removed on close", async () => {
  const agent = await startAgent(agentOptions());
  const dir = agent.socketPath.slice(0, agent.socketPath.lastIndexOf("/"));
  assert.match(dir, /\/postern-agent-[^/]+$/);
  assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
  const info = await Deno.lstat(agent.socketPath);
  assert.ok(info.isSocket);
  assert.equal(info.mode! & 0o777, 0o600);

  const client = await RawClient.connect(agent.socketPath);
  await agent.close();
  await agent.closed;
  assert.equal(await client.receive(), null, "open connections are dropped");
  client.close();
  await assert.rejects(Deno.lstat(dir), Deno.errors.NotFound);
  await agent.close(); // twice is fine
});

Deno.test("startAgent() listens on a given path, replacing a stale socket but not a live one", async () => {
  const base = await Deno.makeTempDir({ prefix: "postern-agent-test-" });
  try {
    const path = `${base}/sub/agent.sock`;
    // A stale socket, as a killed agent leaves it. Deno unlinks a socket when
    // its listener closes, so bind elsewhere and move it into place first.
    await Deno.mkdir(`${base}/sub`);
    const dead = Deno.listen({ transport: "unix", path: `${base}/dead.sock` });
    await Deno.rename(`${base}/dead.sock`, path);
    dead.close();
    assert.ok((await Deno.lstat(path)).isSocket);

    const agent = await startAgent(agentOptions({ socketPath: path }));
    assert.equal(agent.socketPath, path);
    assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(
      [...Deno.readDirSync(`${base}/sub`)].map((e) => e.name),
      ["agent.sock"],
      "the staging folder is gone",
    );
    const client = await RawClient.connect(path);
    assert.equal((await client.identities()).length, 2);
    client.close();

    await assert.rejects(
      startAgent(agentOptions({ socketPath: path })),
      (e) => isKind(e, "conflict") && /another agent/.test((e as Error).message),
    );
    await agent.close();
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);

    // Missing folders are created private.
    await using nested = await startAgent(agentOptions({ socketPath: `${base}/new/dir/a.sock` }));
    assert.equal((await Deno.stat(`${base}/new/dir`)).mode! & 0o777, 0o700);
    assert.ok((await Deno.lstat(nested.socketPath)).isSocket);

    await Deno.writeTextFile(`${base}/file`, "not a socket");
    await assert.rejects(
      startAgent(agentOptions({ socketPath: `${base}/file` })),
      (e) => isKind(e, "conflict"),
    );
    assert.equal(await Deno.readTextFile(`${base}/file`), "not a socket");
    await assert.rejects(
      startAgent(agentOptions({ socketPath: `${base}/${"x".repeat(120)}.sock` })),
      (e) => isKind(e, "bad_request") && /too long|limited/.test((e as Error).message),
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("startAgent() refuses unreadable keys and a certificate for another key", async () => {
  const otherCert = signCertificate({
    caPrivateKey: CA.privateKey,
    publicKey: OTHER.publicKeyBlob,
    type: "user",
    keyId: "mallory",
    principals: ["root"],
    validAfter: 0n,
    validBefore: new Date(Date.now() + 3_600_000),
  });
  const cases: [string, Partial<Parameters<typeof startAgent>[0]>, RegExp][] = [
    ["cert for another key", { certificate: otherCert.line }, /different key/],
    ["garbage key", { privateKey: "not a key" }, /private key/],
    [
      "garbage certificate",
      { certificate: "ssh-ed25519-cert-v01@openssh.com AAAA" },
      /certificate/,
    ],
    [
      "plain key as certificate",
      { certificate: `ssh-ed25519 ${USER.publicKeyBlob.toBase64()}` },
      /certificate/,
    ],
  ];
  for (const [name, options, message] of cases) {
    await assert.rejects(
      startAgent(agentOptions(options)),
      (e) =>
        isKind(e, "bad_request") && message.test((e as Error).message) &&
        !(e as Error).message.includes("BEGIN OPENSSH"),
      name,
    );
  }
});

Deno.test("agentShellLines() prints what ssh-agent -s and -c print, quoting unusual paths", () => {
  assert.equal(
    agentShellLines("/tmp/postern-agent-ab12/agent.sock", 4242, "sh"),
    "SSH_AUTH_SOCK=/tmp/postern-agent-ab12/agent.sock; export SSH_AUTH_SOCK;\n" +
      "SSH_AGENT_PID=4242; export SSH_AGENT_PID;\n" +
      "echo Agent pid 4242;",
  );
  assert.equal(
    agentShellLines("/tmp/a.sock", 7, "csh"),
    "setenv SSH_AUTH_SOCK /tmp/a.sock;\nsetenv SSH_AGENT_PID 7;\necho Agent pid 7;",
  );
  assert.equal(
    agentShellLines("/home/o'brien/my agent;$(x)", 1, "sh").split("\n")[0],
    `SSH_AUTH_SOCK='/home/o'\\''brien/my agent;$(x)'; export SSH_AUTH_SOCK;`,
  );
});

Deno.test("agentKillLines() prints what ssh-agent -k prints", () => {
  assert.equal(
    agentKillLines(4242, "sh"),
    "unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\necho Agent pid 4242 killed;",
  );
  assert.equal(agentKillLines(7, "csh").split("\n")[0], "unsetenv SSH_AUTH_SOCK;");
});

Deno.test("shellSyntax() follows -c/-s, then $SHELL like ssh-agent", () => {
  const cases: [ShellSyntax | undefined, string | undefined, ShellSyntax][] = [
    [undefined, "/bin/bash", "sh"],
    [undefined, "/bin/tcsh", "csh"],
    [undefined, undefined, "sh"],
    ["sh", "/bin/csh", "sh"],
    ["csh", "/bin/zsh", "csh"],
  ];
  for (const [forced, shell, expected] of cases) {
    assert.equal(shellSyntax(forced, shell), expected, `${forced} ${shell}`);
  }
});
