/**
 * The per-session second factor on the SSH gateway (roles with
 * `require_session_mfa`): after the certificate, a user whose roles ask for
 * it and who gave none within `auth.session_mfa_window` gets a
 * keyboard-interactive prompt for an authenticator code (stock `ssh` shows
 * it); the connection opens only once auth accepts the code.
 *
 * @module
 */

import type { AuthContext, KeyboardAuthContext } from "ssh2";
import type { AuthService } from "../../auth/service.ts";
import { PosternError } from "../../errors.ts";
import type { Authenticated } from "./authenticate.ts";

/** Wrong codes a connection may type before it is refused. */
export const SESSION_MFA_TRIES = 3;

/** The prompt's text. */
const PROMPT = "postern: authenticator code for this session: ";

/** Whether `who` must give a second factor before this connection opens. */
export async function needsSessionMfa(auth: AuthService, who: Authenticated): Promise<boolean> {
  return who.identity.requireSessionMfa && await auth.needsSessionMfa(who.proof);
}

/**
 * Asks for the code on a keyboard-interactive request and has auth check it.
 *
 * @returns null when accepted, else why it was refused (for the banner)
 */
export function promptSessionMfa(
  ctx: AuthContext,
  auth: AuthService,
  who: Authenticated,
  remoteAddr: string,
): Promise<string | null> {
  if (ctx.method !== "keyboard-interactive") {
    return Promise.resolve(
      "Your roles ask for an authenticator code before each session; allow keyboard-interactive authentication.",
    );
  }
  const { promise, resolve } = Promise.withResolvers<string | null>();
  (ctx as KeyboardAuthContext).prompt(
    [{ prompt: PROMPT, echo: false }],
    "postern",
    "A second factor is required for this session.",
    (answers) => {
      const otp = (answers?.[0] ?? "").trim();
      auth.approveSessionMfa(who.proof, { otp }, remoteAddr).then(
        () => resolve(null),
        (error) =>
          resolve(
            error instanceof PosternError && /locked|none set up/.test(error.message)
              ? error.message
              : "The authenticator code was not accepted.",
          ),
      );
    },
  );
  return promise;
}
