/**
 * lib/sshcert against real OpenSSH: ssh-keygen reads our certificates, we read
 * and verify ssh-keygen's, and sshd lets OpenSSH's ssh log in with a
 * certificate we signed (and refuses expired or mismatched ones).
 */
import assert from "node:assert/strict";
import {
  CERT_TIME_FOREVER,
  decodeCertificate,
  DEFAULT_USER_EXTENSIONS,
  encodeCertificate,
  encodeOpenSshPrivateKey,
  encodePublicKey,
  fingerprint,
  formatPublicKeyLine,
  generateEd25519KeyPair,
  parseCertificateLine,
  parsePublicKeyLine,
  parseSignature,
  signCertificate,
  type SignCertificateOptions,
  verifyCertificate,
  type VerifyCertificateOptions,
} from "../../lib/sshcert/mod.ts";

const decoder = new TextDecoder();

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Output> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function runOk(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const out = await run(cmd, args, env);
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sshcert_interop_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `ssh-keygen -L` output as { field: { value, items } } ("Principals" lists items). */
function parseKeygenListing(text: string): Record<string, { value: string; items: string[] }> {
  const fields: Record<string, { value: string; items: string[] }> = {};
  let current: { value: string; items: string[] } | undefined;
  for (const line of text.split("\n")) {
    const field = /^ {8}([A-Za-z ]+): ?(.*)$/.exec(line);
    if (field) fields[field[1]] = current = { value: field[2].trim(), items: [] };
    else if (/^ {16}\S/.test(line)) current?.items.push(line.trim());
  }
  return fields;
}

const T0 = 1_900_000_000n; // 2030-03-17T17:46:40Z

Deno.test("ssh-keygen -L reads certificates signed by signCertificate()", async () => {
  const ca = generateEd25519KeyPair();
  const user = generateEd25519KeyPair();
  const base: SignCertificateOptions = {
    caPrivateKey: ca.privateKey,
    publicKey: user.publicKeyBlob,
    type: "user",
    keyId: "alice@postern",
    principals: ["root", "alice"],
    validAfter: T0,
    validBefore: T0 + 3600n,
    serial: 42n,
    criticalOptions: { "force-command": "/usr/bin/uptime", "source-address": "10.0.0.0/8" },
    extensions: { ...DEFAULT_USER_EXTENSIONS, "login@github.com": "alice" },
  };
  const cases: {
    name: string;
    options: Partial<SignCertificateOptions>;
    expect: Record<string, string | string[]>;
  }[] = [
    {
      name: "user certificate",
      options: {},
      expect: {
        "Type": "ssh-ed25519-cert-v01@openssh.com user certificate",
        "Public key": `ED25519-CERT ${fingerprint(user.publicKey)}`,
        "Signing CA": `ED25519 ${fingerprint(ca.publicKey)} (using ssh-ed25519)`,
        "Key ID": '"alice@postern"',
        "Serial": "42",
        "Valid": "from 2030-03-17T17:46:40 to 2030-03-17T18:46:40",
        "Principals": ["root", "alice"],
        "Critical Options": ["force-command /usr/bin/uptime", "source-address 10.0.0.0/8"],
        "Extensions": [
          "login@github.com UNKNOWN OPTION: 00000005616c696365 (len 9)",
          "permit-X11-forwarding",
          "permit-agent-forwarding",
          "permit-port-forwarding",
          "permit-pty",
          "permit-user-rc",
        ],
      },
    },
    {
      name: "host certificate valid forever",
      options: {
        type: "host",
        principals: ["saturn.example.com"],
        validAfter: 0n,
        validBefore: CERT_TIME_FOREVER,
        criticalOptions: {},
        extensions: {},
      },
      expect: {
        "Type": "ssh-ed25519-cert-v01@openssh.com host certificate",
        "Valid": "forever",
        "Principals": ["saturn.example.com"],
        "Critical Options": "(none)",
        "Extensions": "(none)",
      },
    },
  ];
  await withTempDir(async (dir) => {
    for (const { name, options, expect } of cases) {
      const { line } = signCertificate({ ...base, ...options, comment: "test" });
      await Deno.writeTextFile(`${dir}/cert.pub`, line + "\n");
      const listing = parseKeygenListing(
        await runOk("ssh-keygen", ["-L", "-f", `${dir}/cert.pub`], { TZ: "UTC" }),
      );
      for (const [field, value] of Object.entries(expect)) {
        const actual = Array.isArray(value) ? listing[field]?.items : listing[field]?.value;
        assert.deepEqual(actual, value, `${name}: ${field}`);
      }
    }
  });
});

const KEYGEN_TYPES = [
  { name: "ed25519", args: ["-t", "ed25519"] },
  { name: "ecdsa256", args: ["-t", "ecdsa", "-b", "256"] },
  { name: "ecdsa384", args: ["-t", "ecdsa", "-b", "384"] },
  { name: "rsa", args: ["-t", "rsa", "-b", "2048"] },
];

Deno.test("certificates made by ssh-keygen -s parse and verify for every CA and key type", async () => {
  await withTempDir(async (dir) => {
    await Promise.all(
      KEYGEN_TYPES.flatMap(({ name, args }) =>
        ["ca", "user"].map((role) =>
          runOk("ssh-keygen", ["-q", ...args, "-N", "", "-C", "", "-f", `${dir}/${role}_${name}`])
        )
      ),
    );
    const pub = async (path: string) => parsePublicKeyLine(await Deno.readTextFile(path)).key;
    for (const caType of KEYGEN_TYPES) {
      const caKey = await pub(`${dir}/ca_${caType.name}.pub`);
      for (const userType of KEYGEN_TYPES) {
        const label = `${userType.name} signed by ${caType.name} CA`;
        const userPath = `${dir}/user_${userType.name}`;
        const before = Math.floor(Date.now() / 1000);
        await runOk("ssh-keygen", [
          "-q",
          "-s",
          `${dir}/ca_${caType.name}`,
          "-I",
          "id",
          "-n",
          "root,alice",
          "-V",
          "+1h",
          `${userPath}.pub`,
        ]);
        const certLine = await Deno.readTextFile(`${userPath}-cert.pub`);
        const { certificate: cert, blob } = parseCertificateLine(certLine);

        assert.deepEqual(encodeCertificate(cert), blob, `${label}: exact round trip`);
        assert.deepEqual(cert.publicKey, await pub(`${userPath}.pub`), label);
        assert.deepEqual(cert.signatureKey, caKey, label);
        assert.equal(cert.type, "user", label);
        assert.equal(cert.keyId, "id", label);
        assert.deepEqual(cert.principals, ["root", "alice"], label);
        assert.deepEqual(cert.criticalOptions, {}, label);
        assert.deepEqual(cert.extensions, DEFAULT_USER_EXTENSIONS, label);
        assert.ok(cert.validBefore - cert.validAfter >= 3600n, label);
        assert.ok(Math.abs(Number(cert.validBefore) - (before + 3600)) <= 5, label);
        assert.equal(
          parseSignature(cert.signature).algorithm,
          caType.name === "rsa" ? "rsa-sha2-512" : caKey.type,
          label,
        );
        const keygenFingerprint = (await runOk("ssh-keygen", ["-l", "-f", `${userPath}-cert.pub`]))
          .split(" ")[1];
        assert.equal(fingerprint(cert.publicKey), keygenFingerprint, label);

        const options: VerifyCertificateOptions = {
          trustedCAs: [encodePublicKey(caKey)],
          type: "user",
          principal: "alice",
          now: new Date(),
        };
        assert.deepEqual(verifyCertificate(cert, options), { ok: true }, label);
        const expect = (overrides: Partial<VerifyCertificateOptions>) => {
          const verdict = verifyCertificate(cert, { ...options, ...overrides });
          return verdict.ok ? "ok" : verdict.reason;
        };
        assert.equal(expect({ principal: "bob" }), "principal_not_allowed", label);
        assert.equal(expect({ type: "host" }), "wrong_type", label);
        assert.equal(expect({ now: new Date(Date.now() + 2 * 3600e3) }), "expired", label);
        assert.equal(
          expect({ trustedCAs: [generateEd25519KeyPair().publicKeyBlob] }),
          "untrusted_ca",
        );
        const tampered = blob.slice();
        tampered[tampered.length - 10] ^= 1;
        assert.equal(
          verifyCertificate(decodeCertificate(tampered), options).ok,
          false,
          `${label}: tampered signature`,
        );
      }
    }
  });
});

/** A private sshd on a free loopback port; `log` collects its stderr. */
async function startSshd(dir: string, caLine: string) {
  await Deno.mkdir("/run/sshd", { recursive: true });
  await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/host_ed25519`]);
  await Deno.writeTextFile(`${dir}/ca.pub`, caLine + "\n");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await Deno.writeTextFile(
    `${dir}/sshd_config`,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host_ed25519`,
      `TrustedUserCAKeys ${dir}/ca.pub`,
      "AuthorizedKeysFile none",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "UsePAM no",
      "StrictModes no",
      "PidFile none",
      "LogLevel VERBOSE",
      // As in tests/helpers/sshd.ts: bound pyenv's rehash wait in root's rc files.
      "SetEnv PYENV_REHASH_TIMEOUT=1",
    ].join("\n") + "\n",
  );
  const child = new Deno.Command("/usr/sbin/sshd", {
    args: ["-D", "-e", "-f", `${dir}/sshd_config`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
  })();
  const waitForLog = async (pattern: RegExp, ms = 5000) => {
    for (const start = Date.now(); Date.now() - start < ms;) {
      if (pattern.test(log)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.fail(`sshd log never matched ${pattern}:\n${log}`);
  };
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await child.status;
    await reading;
  };
  try {
    await waitForLog(/Server listening on 127\.0\.0\.1 port/);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, waitForLog, stop, log: () => log };
}

Deno.test("sshd accepts a certificate from signCertificate() and refuses bad ones", async () => {
  await withTempDir(async (dir) => {
    const ca = generateEd25519KeyPair();
    const user = generateEd25519KeyPair();
    const keyPath = `${dir}/id_ed25519`;
    await Deno.writeTextFile(keyPath, encodeOpenSshPrivateKey(user.privateKey, "alice"), {
      mode: 0o600,
    });
    await runOk("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", `${dir}/id_rsa`]);
    const rsaPub = parsePublicKeyLine(await Deno.readTextFile(`${dir}/id_rsa.pub`)).key;

    const sshd = await startSshd(dir, formatPublicKeyLine(ca.publicKey, "postern user CA"));
    try {
      const now = BigInt(Math.floor(Date.now() / 1000));
      const login = async (
        name: string,
        options: Partial<SignCertificateOptions>,
        key = keyPath,
      ) => {
        const { line } = signCertificate({
          caPrivateKey: ca.privateKey,
          publicKey: user.publicKey,
          type: "user",
          keyId: `test-${name}`,
          principals: ["root"],
          validAfter: now - 60n,
          validBefore: now + 600n,
          extensions: DEFAULT_USER_EXTENSIONS,
          ...options,
        });
        const certPath = `${dir}/${name}-cert.pub`;
        await Deno.writeTextFile(certPath, line + "\n");
        return await run("ssh", [
          "-F",
          "/dev/null",
          "-i",
          key,
          "-o",
          `CertificateFile=${certPath}`,
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          "IdentityAgent=none",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "BatchMode=yes",
          "-o",
          "ConnectTimeout=10",
          "-o",
          "LogLevel=ERROR",
          "-p",
          String(sshd.port),
          "root@127.0.0.1",
          "echo ok",
        ]);
      };

      const ok = await login("valid", {});
      assert.equal(ok.code, 0, `${ok.stderr}\n${sshd.log()}`);
      assert.equal(ok.stdout, "ok\n");
      await sshd.waitForLog(/Accepted publickey for root .* ED25519-CERT .* ID test-valid/);

      const rsa = await login("rsa", { publicKey: rsaPub }, `${dir}/id_rsa`);
      assert.equal(rsa.code, 0, `${rsa.stderr}\n${sshd.log()}`);
      assert.equal(rsa.stdout, "ok\n");
      await sshd.waitForLog(/Accepted publickey for root .* RSA-CERT .* ID test-rsa/);

      const forced = await login("forced", { criticalOptions: { "force-command": "echo forced" } });
      assert.equal(forced.stdout, "forced\n", forced.stderr);

      const expired = await login("expired", { validAfter: now - 7200n, validBefore: now - 3600n });
      assert.equal(expired.code, 255);
      assert.equal(expired.stdout, "");
      await sshd.waitForLog(/Certificate invalid: expired/);

      const wrongPrincipal = await login("bob", { principals: ["bob"] });
      assert.equal(wrongPrincipal.code, 255);
      await sshd.waitForLog(/name is not a listed principal/);

      const otherCa = generateEd25519KeyPair();
      const untrusted = await login("untrusted", { caPrivateKey: otherCa.privateKey });
      assert.equal(untrusted.code, 255);
      const otherFingerprint = fingerprint(otherCa.publicKey).replace(/[+/]/g, "\\$&");
      await sshd.waitForLog(
        new RegExp(`Failed publickey .* ID test-untrusted .* ${otherFingerprint}`),
      );
    } finally {
      await sshd.stop();
    }
  });
});
