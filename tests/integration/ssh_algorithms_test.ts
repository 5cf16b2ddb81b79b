/**
 * What the gateway offers passes ssh-audit (Debian's `ssh-audit`) with no
 * failure and no warning, but for ssh2's strict-kex marker (the Terrapin
 * mitigation), which ssh-audit 2.5 does not know. The allow-list itself is
 * checked in tests/unit/ssh_algorithms_test.ts either way.
 */

import assert from "node:assert/strict";
import { startPosternProcess } from "../helpers/postern.ts";

/** Findings ssh-audit may report: the strict key exchange marker only. */
const KNOWN = [/\(kex\) kex-strict-s-v00@openssh\.com\s+-- \[warn\] unknown algorithm/];

Deno.test({
  name: "ssh-audit finds no failure and no warning on the gateway",
  ignore: !(await Deno.stat("/usr/bin/ssh-audit").then(() => true, () => false)),
  async fn() {
    await using postern = await startPosternProcess();
    const { stdout } = await new Deno.Command("/usr/bin/ssh-audit", {
      args: ["-n", "-p", String(postern.sshPort), "127.0.0.1"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const report = new TextDecoder().decode(stdout);
    assert.match(report, /\(kex\) curve25519-sha256/, report);
    const findings = report.split("\n").filter((line) => /\[(fail|warn)\]/.test(line))
      .filter((line) => !KNOWN.some((known) => known.test(line)));
    assert.deepEqual(findings, [], report);
  },
});

Deno.test("proxy.ssh_algorithms replaces what the gateway offers; an unknown name stops the start", async () => {
  await using postern = await startPosternProcess({
    extraConfig: [
      "  ssh_algorithms:",
      "    ciphers: [aes256-ctr]",
      "    macs: [hmac-sha2-512-etm@openssh.com]",
    ]
      .join("\n"),
  });
  const offered = async (cipher: string) => {
    const { stderr } = await new Deno.Command("ssh", {
      args: [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-c",
        cipher,
        "-p",
        String(postern.sshPort),
        "nobody@127.0.0.1",
        "true",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    return !/no matching cipher found/.test(new TextDecoder().decode(stderr));
  };
  assert.equal(await offered("aes256-ctr"), true, "the configured cipher is offered");
  assert.equal(await offered("aes128-gcm@openssh.com"), false, "postern's own list is replaced");
  await assert.rejects(
    startPosternProcess({
      extraConfig: ["  ssh_algorithms:", "    kex: [diffie-hellman-group0]"].join("\n"),
    }),
    /proxy\.ssh_algorithms\.kex: "diffie-hellman-group0" is not one/,
  );
});
