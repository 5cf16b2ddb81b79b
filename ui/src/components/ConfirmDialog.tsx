/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * A modal confirmation built on `<dialog>`: focus stays inside it and Escape
 * cancels.
 *
 * @module
 */

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

/** Props for {@link ConfirmDialog}. */
export interface ConfirmDialogProps {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/** Shown while mounted; the parent unmounts it to close it. */
export function ConfirmDialog(
  { title, children, confirmLabel, busy, onConfirm, onCancel }: ConfirmDialogProps,
) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    dialog.showModal();
    cancelRef.current?.focus();
    return () => {
      if (dialog.open) dialog.close();
      opener?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby="confirm-title"
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
    >
      <h2 id="confirm-title">{title}</h2>
      <div class="dialog-body">{children}</div>
      <div class="actions">
        <button type="button" class="btn" ref={cancelRef} onClick={onCancel}>Cancel</button>
        <button type="button" class="btn btn-danger" disabled={busy} onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
