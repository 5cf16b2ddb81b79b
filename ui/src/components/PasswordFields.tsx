/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * A new password with its confirmation and a strength hint.
 *
 * @module
 */

import { Field } from "./Field.tsx";

/** Passwords shorter than this are refused before they reach the server. */
export const MIN_PASSWORD_LENGTH = 12;

/** How strong a password looks: a rough hint, not a guarantee. */
export type Strength = "empty" | "short" | "weak" | "fair" | "strong";

/** Scores a password by length and character variety. */
export function passwordStrength(password: string): Strength {
  if (!password) return "empty";
  if (password.length < MIN_PASSWORD_LENGTH) return "short";
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/]
    .filter((re) => re.test(password)).length;
  const unique = new Set(password).size;
  if (unique < 6) return "weak";
  if (password.length >= 16 && classes >= 3) return "strong";
  if (password.length >= 20) return "strong";
  return classes >= 3 ? "fair" : "weak";
}

const STRENGTH_TEXT: Record<Strength, string> = {
  empty: `Use at least ${MIN_PASSWORD_LENGTH} characters.`,
  short: `Too short: use at least ${MIN_PASSWORD_LENGTH} characters.`,
  weak: "Weak: make it longer or mix letters, digits and symbols.",
  fair: "Fair: a few more characters would make it strong.",
  strong: "Strong password.",
};

/**
 * Why a new password cannot be used yet, or null when it can.
 */
export function passwordProblem(password: string, confirm: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return `The password is too short: use at least ${MIN_PASSWORD_LENGTH} characters.`;
  }
  if (password !== confirm) return "The passwords do not match.";
  return null;
}

/** Password + confirmation inputs; ids are `${idPrefix}password` and `${idPrefix}confirm`. */
export function PasswordFields(
  { idPrefix = "", label, password, confirm, onPassword, onConfirm }: {
    idPrefix?: string;
    label: string;
    password: string;
    confirm: string;
    onPassword: (value: string) => void;
    onConfirm: (value: string) => void;
  },
) {
  const strength = passwordStrength(password);
  const mismatch = confirm.length > 0 && confirm !== password;
  return (
    <>
      <Field
        id={`${idPrefix}password`}
        name="new_password"
        label={label}
        type="password"
        autocomplete="new-password"
        minLength={MIN_PASSWORD_LENGTH}
        required
        value={password}
        onValue={onPassword}
        hint={
          <span class={`strength strength-${strength}`}>
            <span class="strength-bar" aria-hidden="true">
              <span />
            </span>
            <span>{STRENGTH_TEXT[strength]}</span>
          </span>
        }
      />
      <Field
        id={`${idPrefix}confirm`}
        name="confirm_password"
        label={`Confirm ${label.toLowerCase()}`}
        type="password"
        autocomplete="new-password"
        required
        value={confirm}
        onValue={onConfirm}
        aria-invalid={mismatch}
        hint={mismatch ? "The passwords do not match." : undefined}
      />
    </>
  );
}
