/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * A "Copy" button that confirms the copy for a moment.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { copyText } from "../clipboard.ts";

/** Copies `text`; `label` names what is copied for screen readers. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      class="btn btn-small"
      aria-label={`Copy ${label}`}
      onClick={async () => setState(await copyText(text) ? "copied" : "failed")}
    >
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy"}
    </button>
  );
}

/** A value shown as monospace text (`shown`, when it is easier to read) with a Copy button beside it. */
export function CopyValue(
  { value, label, testId, shown = value }: {
    value: string;
    label: string;
    testId: string;
    shown?: string;
  },
) {
  return (
    <div class="copy-value">
      <code data-testid={testId}>{shown}</code>
      <CopyButton text={value} label={label} />
    </div>
  );
}
