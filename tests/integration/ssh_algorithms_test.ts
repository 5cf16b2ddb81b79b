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
