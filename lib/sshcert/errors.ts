/**
 * The one error type of lib/sshcert. Parsing any byte sequence either succeeds
 * or throws a {@link CertError}; certificate verification returns a
 * {@link CertVerdict} whose rejection carries one of the same reasons.
 *
 * @module
 */

import { BadRequest } from "../errors.ts";

/** Why `verifyCertificate` refused a certificate. */
export type CertRejection =
  | "bad_signature"
  | "untrusted_ca"
  | "expired"
  | "not_yet_valid"
  | "wrong_type"
  | "principal_not_allowed"
  | "unsupported_critical_option"
  | "source_address_not_allowed";

/**
 * What went wrong, independent of the wording:
 * - `malformed`: bytes or text are not in the expected wire or file format
 * - `unsupported`: a well-formed key type, algorithm or cipher postern does not handle
 * - any {@link CertRejection}
 */
export type CertErrorReason = "malformed" | "unsupported" | CertRejection;

/** A key, signature or certificate that cannot be parsed, produced or accepted. */
export class CertError extends BadRequest {
  /**
   * @param reason what went wrong; tests and callers branch on this
   * @param message text safe to show to users ("Cannot <action>: <state>")
   * @param options.cause the underlying error, for logs only
   */
  constructor(readonly reason: CertErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The outcome of verifying a certificate: accepted, or refused for one reason. */
export type CertVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: CertRejection; readonly message: string };
