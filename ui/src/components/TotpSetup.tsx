/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Shows what an authenticator app needs to enrol: the QR code and the secret
 * as text for typing in by hand.
 *
 * @module
 */

import type { TotpEnrolment } from "../types.ts";
import { CopyValue } from "./CopyButton.tsx";

/** "JBSWY3DPEHPK3PXP" as "JBSW Y3DP EHPK 3PXP", for typing in by hand. */
export function groupsOfFour(secret: string): string {
  return secret.match(/.{1,4}/g)?.join(" ") ?? secret;
}

/** QR code, secret and instructions for one enrolment. */
export function TotpSetup({ enrolment }: { enrolment: TotpEnrolment }) {
  const qrOk = enrolment.qr_data_url.startsWith("data:image/");
  const uriOk = enrolment.otpauth_uri.startsWith("otpauth://");
  return (
    <div class="totp-setup">
      {qrOk && (
        <img
          class="qr"
          src={enrolment.qr_data_url}
          alt="QR code for your authenticator app"
          width={180}
          height={180}
        />
      )}
      <div class="totp-text">
        <p>
          Scan the QR code with an authenticator app (Google Authenticator, 1Password, Authy, ...),
          or enter this secret by hand:
        </p>
        <CopyValue
          value={enrolment.secret}
          shown={groupsOfFour(enrolment.secret)}
          label="secret"
          testId="totp-secret"
        />
        {uriOk && (
          <p class="hint">
            On this device? <a href={enrolment.otpauth_uri}>Open in your authenticator app</a>.
          </p>
        )}
        <p class="hint">Then type the 6-digit code the app shows.</p>
      </div>
    </div>
  );
}
