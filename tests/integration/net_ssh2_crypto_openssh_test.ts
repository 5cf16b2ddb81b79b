/**
 * ssh2's ciphers through libcrypto (lib/net/ssh2_crypto.ts) against the stock
 * OpenSSH client: an ssh2 Server on denoConnDuplex with reused packet
 * buffers, as the gateway runs it, tunnels `ssh -c <cipher>` to a real sshd
 * for AES-GCM and chacha20-poly1305 while the outer hop re-keys every
 * megabyte (packets queued during each key exchange), and megabytes go both
 * ways intact.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { loadLibcrypto } from "../../lib/net/libcrypto.ts";
import { installFastCiphers, reusePacketBuffers } from "../../lib/net/ssh2_crypto.ts";
import { defaultSshOptions, newCertifiedUser, runSsh, startSshd } from "../helpers/sshd.ts";
import { startRelayGateway } from "../helpers/relay_gateway.ts";

const { dir, ca, user } = await newCertifiedUser("postern-gcm-test-");

function startGateway() {
  installFastCiphers();
  const ciphers: string[] = [];
  const gateway = startRelayGateway({
    onClient(client) {
      // As lib/proxy/ssh/server.ts does.
      reusePacketBuffers(client);
      client.on("handshake", (negotiated) => ciphers.push(negotiated.cs.cipher));
    },
  });
  return Object.assign(gateway, { ciphers });
}

const CIPHERS = [
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "chacha20-poly1305@openssh.com",
];

for (const cipher of CIPHERS) {
  Deno.test(`OpenSSH tunnels through ssh2 with ${cipher}, re-keying, intact both ways`, async () => {
    const libcrypto = Deno.env.get("POSTERN_SSH_CRYPTO") === "ssh2" ? null : loadLibcrypto();
    const fast = installFastCiphers();
    assert.equal(
      cipher.startsWith("aes") ? fast.gcm : fast.chacha20Poly1305,
      cipher.startsWith("aes") ? Boolean(libcrypto) : Boolean(libcrypto?.chachaPoly),
    );
    await using sshd = await startSshd({ trustedUserCAKeys: ca.pub });
    await using gateway = startGateway();
    const outer = [
      "ssh",
      ...defaultSshOptions,
      "-c",
      cipher,
      // A new key exchange every megabyte, each way: NEWKEYS mid-stream.
      "-o",
      "RekeyLimit=1M",
      "-p",
      `${gateway.port}`,
      "-s",
      "anyone@127.0.0.1",
      `proxy:127.0.0.1:${sshd.port}`,
    ].join(" ");
    const blob = new Uint8Array(6 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 65536) {
      crypto.getRandomValues(blob.subarray(i, i + 65536));
    }
    const blobPath = `${dir}/blob-${cipher}`;
    await Deno.writeFile(blobPath, blob);
    const result = await runSsh([
      ...defaultSshOptions,
      "-i",
      user.path,
      "-o",
      `ProxyCommand=${outer}`,
      "-p",
      `${sshd.port}`,
      "root@127.0.0.1",
      `sha256sum; base64 -w0 ${blobPath}`,
    ], { stdin: blob, timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    const [hashLine, down] = result.stdout.split("\n");
    assert.equal(hashLine.split(" ")[0], createHash("sha256").update(blob).digest("hex"));
    assert.equal(down, btoa(Array.from(blob, (b) => String.fromCharCode(b)).join("")));
    const [tunnel] = await Promise.all(gateway.relays);
    assert.equal(tunnel.error, undefined);
    assert.ok(gateway.ciphers.length > 4, `${gateway.ciphers.length} key exchanges`);
    assert.ok(gateway.ciphers.every((c) => c === cipher), gateway.ciphers.join(", "));
  });
}
