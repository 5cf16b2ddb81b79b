/**
 * Certificate throughput: `deno bench -A tests/unit/sshcert_sign_bench.ts`.
 * Target: signing ≥ 5,000 ed25519 user certificates per second.
 */
import {
  decodeCertificate,
  DEFAULT_USER_EXTENSIONS,
  generateEd25519KeyPair,
  signCertificate,
  verifyCertificate,
} from "../../lib/sshcert/mod.ts";

const ca = generateEd25519KeyPair();
const user = generateEd25519KeyPair();
const now = new Date();
const options = {
  caPrivateKey: ca.privateKey,
  publicKey: user.publicKey,
  type: "user" as const,
  keyId: "alice",
  principals: ["root", "alice"],
  validAfter: now,
  validBefore: new Date(now.getTime() + 3600e3),
  extensions: DEFAULT_USER_EXTENSIONS,
};
const { blob } = signCertificate(options);

Deno.bench("signCertificate() ed25519 user certificate", () => {
  signCertificate(options);
});

Deno.bench("decodeCertificate() + verifyCertificate()", () => {
  verifyCertificate(decodeCertificate(blob), {
    trustedCAs: [ca.publicKeyBlob],
    type: "user",
    principal: "root",
    now,
  });
});
