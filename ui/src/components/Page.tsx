/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Page scaffolding: a heading with optional actions, the document title, and
 * a loading/error/empty wrapper for tables.
 *
 * @module
 */

import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";

/** Sets `document.title` to "<title> · postern" while mounted. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · postern`;
  }, [title]);
}

/** A page heading, an optional description and actions on the right. */
export function PageHeader(
  { title, description, children }: {
    title: string;
    description?: ComponentChildren;
    children?: ComponentChildren;
  },
) {
  useTitle(title);
  return (
    <div class="page-header">
      <div>
        <h1>{title}</h1>
        {description && <p class="muted">{description}</p>}
      </div>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}

/** A titled card; its heading names the region for assistive tech and tests. */
export function Section(
  { id, title, children, description }: {
    id: string;
    title: string;
    children: ComponentChildren;
    description?: ComponentChildren;
  },
) {
  return (
    <section class="card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {description && <p class="muted">{description}</p>}
      {children}
    </section>
  );
}

/** A horizontally scrollable table wrapper so wide tables work on narrow windows. */
export function TableWrap({ children }: { children: ComponentChildren }) {
  return <div class="table-wrap">{children}</div>;
}

/** A table row spanning all columns, for "Loading…" and "Nothing here" messages. */
export function EmptyRow({ cols, children }: { cols: number; children: ComponentChildren }) {
  return (
    <tr class="empty-row">
      <td colSpan={cols}>{children}</td>
    </tr>
  );
}
