/**
 * The shell script `postern nodes setup-script <node>` prints: run on the node,
 * it makes sshd trust the postern user CA, installs the node's host
 * certificate, checks the config and reloads sshd.
 *
 * @module
 */

function keyFileType(hostKeyLine: string): string {
  const type = hostKeyLine.split(" ")[0];
  if (type === "ssh-ed25519") return "ed25519";
  if (type.startsWith("ecdsa-")) return "ecdsa";
  return "rsa";
}

/** Renders the setup script (POSIX sh). */
export function setupScript(options: {
  node: string;
  userCaLine: string;
  hostKeyLine: string | null;
  hostCert?: string;
}): string {
  const lines = [
    "#!/bin/sh",
    `# postern setup for node "${options.node}": trust the postern user CA and`,
    "# present a host certificate signed by the postern host CA. Run as root.",
    "set -eu",
    'SSHD_CONFIG="${SSHD_CONFIG:-/etc/ssh/sshd_config}"',
    "CA_FILE=/etc/ssh/postern_user_ca.pub",
    "add_setting() {",
    '  grep -qxF "$1" "$SSHD_CONFIG" || printf "%s\\n" "$1" >> "$SSHD_CONFIG"',
    "}",
    "cat > \"$CA_FILE\" <<'POSTERN_CA'",
    options.userCaLine,
    "POSTERN_CA",
    'chmod 0644 "$CA_FILE"',
    'add_setting "TrustedUserCAKeys $CA_FILE"',
  ];
  if (options.hostCert && options.hostKeyLine) {
    const certFile = `/etc/ssh/ssh_host_${keyFileType(options.hostKeyLine)}_key-cert.pub`;
    lines.push(
      `CERT_FILE=${certFile}`,
      "cat > \"$CERT_FILE\" <<'POSTERN_CERT'",
      options.hostCert,
      "POSTERN_CERT",
      'chmod 0644 "$CERT_FILE"',
      'add_setting "HostCertificate $CERT_FILE"',
    );
  }
  lines.push(
    'sshd -t -f "$SSHD_CONFIG"',
    "if command -v systemctl >/dev/null 2>&1; then",
    "  systemctl reload ssh 2>/dev/null || systemctl reload sshd",
    "elif [ -f /run/sshd.pid ]; then",
    '  kill -HUP "$(cat /run/sshd.pid)"',
    "else",
    "  service ssh reload",
    "fi",
    `echo "postern: node ${options.node} now trusts the postern user CA"`,
  );
  return lines.join("\n") + "\n";
}
