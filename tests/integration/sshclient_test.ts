/**
 * connectSsh() against a real OpenSSH sshd: certificate login (the authPK
 * override for ssh2 1.17.0), pty shells, host key pinning and dial errors. Also
 * an ssh2 Server on denoConnDuplex, reached by the stock OpenSSH client, with
 * relay() tunnelling to the sshd (the gateway's data path).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, sign } from "node:crypto";
// @ts-types="@types/ssh2"
import ssh2 from "ssh2";
import { AccessDenied, BadRequest, isKind, Unavailable } from "../../lib/errors.ts";
import { connectSsh, type ConnectSshOptions } from "../../lib/sshclient/connect.ts";
import { fingerprintSha256, pinnedHostKey, publicKeyBlob } from "../../lib/sshclient/host_key.ts";
import { freePort } from "../helpers/ports.ts";
import {
  defaultSshOptions,
  newCertifiedUser,
  newKeyPair,
  runSsh,
  signUserKey,
  sshKeygen,
  startSshd,
} from "../helpers/sshd.ts";
import { startRelayGateway } from "../helpers/relay_gateway.ts";

const { dir: keysDir, ca, user, cert } = await newCertifiedUser("postern-sshclient-test-");
const otherCa = await newKeyPair(keysDir, "other_ca");
const strangerKey = await newKeyPair(keysDir, "stranger");
const strangerCert = await signUserKey({
  caPath: otherCa.path,
  pubPath: strangerKey.pubPath,
  principals: ["root"],
});

function options(
  sshd: { port: number; hostKeyPub: string },
  extra: Partial<ConnectSshOptions> = {},
): ConnectSshOptions {
  return {
    host: "127.0.0.1",
    port: sshd.port,
    username: "root",
    certificate: cert,
    privateKey: user.privatePem,
    hostKeyVerifier: pinnedHostKey(sshd.hostKeyPub),
    readyTimeoutMs: 5000,
    ...extra,
  };
}

/** Runs `command` and collects stdout and the exit code. */
function exec(client: ssh2.Client, command: string): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(error);
      let stdout = "";
      stream.on("data", (chunk: Buffer) => stdout += chunk.toString());
      stream.stderr.resume();
      stream.on("close", (code: number) => resolve({ stdout, code }));
    });
  });
}

/** Waits until `read()` contains `pattern`. */
async function waitFor(read: () => string, pattern: RegExp, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in ${JSON.stringify(read())}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return read();
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

Deno.test("connectSsh() logs in to sshd with a certificate and runs a command", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  const client = await connectSsh(options(sshd));
  try {
    assert.deepEqual(await exec(client, "echo ok"), { stdout: "ok\n", code: 0 });
    assert.deepEqual(await exec(client, "exit 3"), { stdout: "", code: 3 });
  } finally {
    client.end();
  }
  assert.match(sshd.logs(), /Accepted publickey for root .* ED25519-CERT .* ID test/);
});

Deno.test("connectSsh() opens a pty shell whose size follows setWindow", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  const client = await connectSsh(options(sshd));
  try {
    const shell = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.shell(
        { term: "xterm", cols: 80, rows: 24 },
        (error, channel) => error ? reject(error) : resolve(channel),
      )
    );
    let output = "";
    shell.on("data", (chunk: Buffer) => output += chunk.toString());
    shell.write("echo TERM=$TERM; stty size\n");
    await waitFor(() => output, /TERM=xterm\r?\n24 80\r?\n/);
    shell.setWindow(40, 100, 0, 0);
    shell.write("stty size\n");
    await waitFor(() => output, /40 100\r?\n/);
    shell.write("exit 0\n");
    const code = await new Promise((resolve) => shell.on("close", resolve));
    assert.equal(code, 0);
  } finally {
    client.end();
  }
});

Deno.test("connectSsh() logs in with a signer callback or a KeyObject", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  // ssh2 turns the OpenSSH PEM into PKCS#8 that node:crypto reads.
  const pkcs8 = ssh2.utils.parseKey(user.privatePem);
  assert.ok(!(pkcs8 instanceof Error));
  const keyObject = createPrivateKey(pkcs8.getPrivatePEM());
  let signed = 0;
  const signer = async (data: Uint8Array) => {
    await new Promise((resolve) => setTimeout(resolve, 5)); // like an agent round trip
    signed++;
    return new Uint8Array(sign(null, data, keyObject));
  };
  for (const extra of [{ privateKey: undefined, signer }, { privateKey: keyObject }]) {
    const client = await connectSsh(options(sshd, extra));
    try {
      assert.equal((await exec(client, "echo ok")).stdout, "ok\n");
    } finally {
      client.end();
    }
  }
  assert.equal(signed, 1);
});

Deno.test("connectSsh() reports a failing signer as Unavailable", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  const error = await rejection(connectSsh(options(sshd, {
    privateKey: undefined,
    signer: () => Promise.reject(new Error("agent gone")),
  })));
  assert.ok(isKind(error, "unavailable"), String(error));
  assert.match(error.message, /Cannot log in to 127\.0\.0\.1:\d+: signing failed/);
});

Deno.test("connectSsh() rejects a certificate from an untrusted CA with AccessDenied", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  const error = await rejection(connectSsh(options(sshd, {
    certificate: strangerCert,
    privateKey: strangerKey.privatePem,
  })));
  assert.ok(error instanceof AccessDenied, String(error));
  assert.match(error.message, /^Cannot log in to 127\.0\.0\.1:\d+ as "root": .*TrustedUserCAKeys/);
});

Deno.test("connectSsh() refuses a key that the certificate does not certify", async () => {
  const error = await rejection(connectSsh({
    host: "127.0.0.1",
    port: 1,
    username: "root",
    certificate: cert,
    privateKey: strangerKey.privatePem,
    hostKeyVerifier: () => true,
  }));
  assert.ok(error instanceof BadRequest, String(error));
  assert.match(error.message, /certifies a different key/);
});

Deno.test("connectSsh() refuses a changed host key, naming both fingerprints", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  const registered = (await newKeyPair(keysDir, "old_host_key")).pub;
  const error = await rejection(connectSsh(options(sshd, {
    hostKeyVerifier: pinnedHostKey(registered),
  })));
  assert.ok(error instanceof AccessDenied, String(error));
  // The fingerprints are the ones ssh-keygen prints.
  const fingerprint = async (path: string) =>
    (await sshKeygen(["-l", "-E", "sha256", "-f", path])).stdout.split(" ")[1];
  const expected = await fingerprint(`${keysDir}/old_host_key.pub`);
  const presented = await fingerprint(`${sshd.hostKeyPath}.pub`);
  assert.equal(presented, fingerprintSha256(publicKeyBlob(sshd.hostKeyPub)));
  const prefix =
    `Cannot connect to 127.0.0.1:${sshd.port}: host key mismatch: expected ${expected}, presented ${presented}. `;
  assert.ok(error.message.startsWith(prefix), error.message);
  // A plain "no" from a verifier is refused too, naming the presented key.
  const refused = await rejection(connectSsh(options(sshd, { hostKeyVerifier: () => false })));
  assert.ok(refused instanceof AccessDenied);
  assert.match(
    refused.message,
    new RegExp(`host key ${presented.replace(/[+/]/g, "\\$&")} was refused`),
  );
  assert.doesNotMatch(sshd.logs(), /Accepted publickey/);
});

Deno.test("connectSsh() rejects an expired certificate with AccessDenied", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  const expiredKey = await newKeyPair(keysDir, "expired");
  const expired = await signUserKey({
    caPath: ca.path,
    pubPath: expiredKey.pubPath,
    principals: ["root"],
    validity: "-2h:-1h",
  });
  const error = await rejection(connectSsh(options(sshd, {
    certificate: expired,
    privateKey: expiredKey.privatePem,
  })));
  assert.ok(isKind(error, "access_denied"), String(error));
  assert.match(sshd.logs(), /Certificate invalid: expired/);
});

Deno.test("connectSsh() pins the plain host key of a node that has a host certificate", async () => {
  // ssh2 offers no certificate host key algorithms, so it is shown the plain key
  // even where OpenSSH clients check the host certificate.
  const hostCa = await newKeyPair(keysDir, "host_ca");
  await using sshd = await startSshd({
    trustedUserCAKeys: ca.pub,
    hostKeyType: "ecdsa",
    hostCertificate: async (hostKeyPub) => {
      await Deno.writeTextFile(`${keysDir}/node_host.pub`, hostKeyPub + "\n");
      return await signUserKey({
        caPath: hostCa.path,
        pubPath: `${keysDir}/node_host.pub`,
        principals: ["127.0.0.1"],
        host: true,
      });
    },
  });
  assert.match(sshd.hostKeyPub, /^ecdsa-sha2-nistp256 /);
  const client = await connectSsh(options(sshd));
  client.end();
  // OpenSSH checks the certificate against an @cert-authority line.
  await Deno.writeTextFile(`${keysDir}/known_hosts`, `@cert-authority 127.0.0.1 ${hostCa.pub}\n`);
  const result = await runSsh([
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${keysDir}/known_hosts`,
    "-i",
    user.path,
    "-p",
    `${sshd.port}`,
    "root@127.0.0.1",
    "echo ok",
  ]);
  assert.equal(result.stdout, "ok\n", result.stderr);
});

Deno.test("connectSsh() reports a closed port as Unavailable at once", async () => {
  const port = freePort();
  const started = Date.now();
  const error = await rejection(connectSsh(options({ port, hostKeyPub: user.pub })));
  assert.ok(error instanceof Unavailable, String(error));
  assert.equal(error.message, `Cannot connect to 127.0.0.1:${port}: connection refused`);
  assert.ok(Date.now() - started < 1000);
});

Deno.test("connectSsh() times out on a server that never speaks SSH", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const started = Date.now();
    const error = await rejection(connectSsh(options(
      { port: listener.addr.port, hostKeyPub: user.pub },
      { readyTimeoutMs: 300 },
    )));
    assert.ok(isKind(error, "unavailable"), String(error));
    assert.match(error.message, /^Cannot connect to 127\.0\.0\.1:\d+: timed out after \d+ ms/);
    assert.ok(Date.now() - started < 2000);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of accepted) conn.close();
  }
});

/** The relay gateway whose `exec` answers with a greeting. */
function startGateway() {
  return startRelayGateway({
    onSession(session) {
      session.on("exec", (acceptExec, _reject, info) => {
        const channel = acceptExec();
        channel.write(`hello from ssh2, you ran ${info.command}\n`);
        // Exit status first: ending a server channel also closes it.
        channel.exit(0);
        channel.end();
      });
    },
  });
}

Deno.test("an ssh2 Server on denoConnDuplex serves the OpenSSH client", async () => {
  await using gateway = startGateway();
  const result = await runSsh([
    ...defaultSshOptions,
    "-p",
    `${gateway.port}`,
    "anyone@127.0.0.1",
    "uptime",
  ]);
  assert.equal(result.stdout, "hello from ssh2, you ran uptime\n", result.stderr);
  assert.equal(result.code, 0);
});

Deno.test("relay() tunnels OpenSSH to sshd through an ssh2 subsystem, intact both ways", async () => {
  await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
  await using gateway = startGateway();
  const proxyCommand = [
    "ssh",
    ...defaultSshOptions,
    "-p",
    `${gateway.port}`,
    "-s",
    "anyone@127.0.0.1",
    `proxy:127.0.0.1:${sshd.port}`,
  ].join(" ");
  const blob = new Uint8Array(3 * 1024 * 1024);
  for (let i = 0; i < blob.length; i += 65536) crypto.getRandomValues(blob.subarray(i, i + 65536));
  const blobPath = `${keysDir}/blob`;
  await Deno.writeFile(blobPath, blob);
  const result = await runSsh([
    ...defaultSshOptions,
    "-i",
    user.path,
    "-o",
    `ProxyCommand=${proxyCommand}`,
    "-p",
    `${sshd.port}`,
    "root@127.0.0.1",
    // Up: stdin through the tunnel, hashed on the node. Down: the file, base64.
    `sha256sum; base64 -w0 ${blobPath}`,
  ], { stdin: blob, timeoutMs: 30_000 });
  assert.equal(result.code, 0, result.stderr);
  const [hashLine, down] = result.stdout.split("\n");
  assert.equal(hashLine.split(" ")[0], createHash("sha256").update(blob).digest("hex"));
  assert.equal(down, Buffer.from(blob).toString("base64"));
  const [tunnel] = await Promise.all(gateway.relays);
  assert.equal(tunnel.error, undefined);
  assert.ok(tunnel.bytesUp > blob.length, `${tunnel.bytesUp} bytes up`);
  assert.ok(tunnel.bytesDown > blob.length * 4 / 3, `${tunnel.bytesDown} bytes down`);
});
