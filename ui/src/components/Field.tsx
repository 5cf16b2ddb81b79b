/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * A labelled form input. Every input gets `id`, `name` and a `<label for>` so
 * it can be found by its label.
 *
 * @module
 */

import type { ComponentChildren, JSX, Ref } from "preact";

/** Props for {@link Field}: any input attribute plus a label and an optional hint. */
export type FieldProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "id" | "value"> & {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  hint?: ComponentChildren;
  inputRef?: Ref<HTMLInputElement>;
  /** Cleans what was typed (e.g. keeps digits only); the input shows the cleaned text. */
  clean?: (typed: string) => string;
};

/** A label, an input and an optional hint under it. */
export function Field(
  { id, label, value, onValue, hint, inputRef, name, clean, ...rest }: FieldProps,
) {
  const hintId = hint ? `${id}-hint` : undefined;
  const onInput = (event: { currentTarget: HTMLInputElement }) => {
    const input = event.currentTarget;
    const cleaned = clean ? clean(input.value) : input.value;
    // Preact skips the re-render when the cleaned value equals the state it
    // had (typing "x" into an empty field), so the input is corrected here.
    if (cleaned !== input.value) input.value = cleaned;
    onValue(cleaned);
  };
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name ?? id}
        value={value}
        ref={inputRef}
        aria-describedby={hintId}
        onInput={onInput}
        {...rest}
      />
      {hint && <div id={hintId} class="hint">{hint}</div>}
    </div>
  );
}

/** A six-digit authenticator code input. */
export function CodeField(
  { id, value, onValue, label = "Authenticator code", required = true }: {
    id: string;
    value: string;
    onValue: (value: string) => void;
    label?: string;
    required?: boolean;
  },
) {
  return (
    <Field
      id={id}
      name="second_factor_token"
      label={label}
      value={value}
      onValue={onValue}
      clean={(typed) => typed.replace(/\D/g, "").slice(0, 6)}
      inputMode="numeric"
      autocomplete="one-time-code"
      pattern="[0-9]{6}"
      maxLength={6}
      required={required}
      class="code-input"
      hint="The 6-digit code from your authenticator app."
    />
  );
}
