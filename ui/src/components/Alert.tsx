/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Error and success messages. Errors use role="alert" so screen readers (and
 * tests) find them.
 *
 * @module
 */

import type { ComponentChildren } from "preact";

/** An error message; renders nothing when `message` is empty. */
export function ErrorAlert({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <div class="alert alert-error" role="alert">
      {message}
    </div>
  );
}

/** A polite status message (saved, copied, ...). */
export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <div class="alert alert-success" role="status">
      {children}
    </div>
  );
}
